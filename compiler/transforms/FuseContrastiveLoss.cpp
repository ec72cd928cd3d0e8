//===- FuseContrastiveLoss.cpp - one op for the contrastive composition ---===//
//
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "transforms/Passes.h"

#include "dialects/step/StepDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace expc {
#define GEN_PASS_DEF_STEPFUSECONTRASTIVELOSS
#include "transforms/Passes.h.inc"
} // namespace expc

using namespace mlir;
namespace step = expc::step;

namespace {

template <typename OpTy> OpTy defining(Value v) { return v ? v.getDefiningOp<OpTy>() : OpTy(); }

bool isConstant(Value v, double expected) {
  auto c = defining<step::ConstantOp>(v);
  return c && c.getValue().convertToDouble() == expected;
}

// Matches 0.5 * (CE(L, t) + CE(L^T, t)) with L = matmul(norm(a), norm(b)^T) * s
// and t = arange_rows(L); fuses when the intermediates are used only here.
struct FuseClip : OpRewritePattern<step::MulOp> {
  FuseClip(MLIRContext *ctx, bool explain) : OpRewritePattern(ctx), explain_(explain) {}

  LogicalResult matchAndRewrite(step::MulOp half, PatternRewriter &rewriter) const override {
    if (!isConstant(half.getRhs(), 0.5))
      return failure();
    auto sum = defining<step::AddOp>(half.getLhs());
    if (!sum)
      return failure();
    auto ce1 = defining<step::CrossEntropyOp>(sum.getLhs());
    auto ce2 = defining<step::CrossEntropyOp>(sum.getRhs());
    if (!ce1 || !ce2)
      return failure();
    // Either order of the two directions.
    if (defining<step::TransposeOp>(ce1.getLogits()))
      std::swap(ce1, ce2);
    auto transposed = defining<step::TransposeOp>(ce2.getLogits());
    if (!transposed || transposed.getInput() != ce1.getLogits())
      return failure();
    Value logits = ce1.getLogits();
    auto targets = defining<step::ArangeRowsOp>(ce1.getTargets());
    if (!targets || targets.getInput() != logits || ce2.getTargets() != ce1.getTargets())
      return failure();
    auto scaled = defining<step::MulOp>(logits);
    if (!scaled || cast<RankedTensorType>(scaled.getRhs().getType()).getRank() != 0)
      return failure();
    auto sim = defining<step::MatmulOp>(scaled.getLhs());
    if (!sim || !sim.getTransposeB())
      return failure();
    auto an = defining<step::L2NormalizeOp>(sim.getLhs());
    auto bn = defining<step::L2NormalizeOp>(sim.getRhs());
    if (!an || !bn)
      return failure();
    // Fusing an intermediate someone else reads would compute it twice.
    struct Use {
      Operation *op;
      std::initializer_list<Operation *> users;
      const char *what;
    };
    for (const Use &u : {Use{sum, {half}, "the sum of the two directions"},
                         Use{ce1, {sum}, "the row-wise cross-entropy"},
                         Use{ce2, {sum}, "the column-wise cross-entropy"},
                         Use{transposed, {ce2}, "the transposed logits"},
                         Use{targets, {ce1, ce2}, "the targets"},
                         Use{scaled, {ce1, transposed, targets}, "the logits"},
                         Use{sim, {scaled}, "the similarity matrix"},
                         Use{an, {sim}, "the normalised left side"},
                         Use{bn, {sim}, "the normalised right side"}})
      for (Operation *user : u.op->getUsers())
        if (!llvm::is_contained(u.users, user)) {
          if (explain_)
            user->emitRemark() << "contrastive loss not fused: this op also reads " << u.what;
          return failure();
        }
    rewriter.replaceOpWithNewOp<step::ContrastiveLossOp>(
        half, half.getType(), rewriter.getStringAttr("clip"), an.getInput(), bn.getInput(),
        scaled.getRhs());
    return success();
  }

  bool explain_;
};

struct StepFuseContrastiveLoss
    : expc::impl::StepFuseContrastiveLossBase<StepFuseContrastiveLoss> {
  using StepFuseContrastiveLossBase::StepFuseContrastiveLossBase;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseClip>(&getContext(), explain);
    // The greedy driver also erases the composition once it is dead (its ops are Pure).
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
