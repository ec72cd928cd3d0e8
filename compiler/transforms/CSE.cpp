//===- CSE.cpp - share identical applications and featurisation -----------===//
//
// See the pass description in Passes.td. The work is MLIR's CSE driver; what
// this pass adds is its place in the pipeline and a remark for users.
//
//===----------------------------------------------------------------------===//

#include "transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"

namespace expc {
#define GEN_PASS_DEF_EXPCSE
#include "transforms/Passes.h.inc"
} // namespace expc

using namespace mlir;

namespace {

struct ExpCSE : expc::impl::ExpCSEBase<ExpCSE> {
  using ExpCSEBase::ExpCSEBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    int64_t before = 0, after = 0;
    module.walk([&](Operation *) { ++before; });
    IRRewriter rewriter(&getContext());
    DominanceInfo &dominance = getAnalysis<DominanceInfo>();
    bool changed = false;
    eliminateCommonSubExpressions(rewriter, dominance, module, &changed);
    if (!changed)
      return markAllAnalysesPreserved();
    module.walk([&](Operation *) { ++after; });
    if (explain)
      module.emitRemark() << "shared " << (before - after) << " duplicate ops";
  }
};

} // namespace
