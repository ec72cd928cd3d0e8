//===- GroupElementwise.cpp - chains of elementwise ops as step.fusion ----===//
//
// See the pass description in Passes.td. Groups grow greedily in program
// order: an elementwise op joins the group of an operand's producer when it
// computes the same shape and no value of the group is used, outside it,
// before the op (the group's results appear where its last op is).
//
//===----------------------------------------------------------------------===//

#include "transforms/Passes.h"

#include "dialects/step/StepDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

namespace expc {
#define GEN_PASS_DEF_STEPGROUPELEMENTWISE
#include "transforms/Passes.h.inc"
} // namespace expc

using namespace mlir;
namespace step = expc::step;

namespace {

// Elementwise over a tensor with at least one dimension: scalar arithmetic
// (the weighted sum of losses) gains nothing from a kernel of its own.
bool groupable(Operation &op) {
  if (!op.hasTrait<step::Elementwise>() || op.getNumResults() != 1)
    return false;
  auto t = dyn_cast<RankedTensorType>(op.getResult(0).getType());
  return t && t.getRank() > 0;
}

class Grouper {
public:
  explicit Grouper(Block &block) {
    for (auto [i, op] : llvm::enumerate(block))
      position_[&op] = static_cast<int64_t>(i);
    for (Operation &op : block)
      if (groupable(op))
        place(&op);
  }

  // Replaces each group of two or more ops by a step.fusion; returns how many.
  int64_t materialise();

private:
  void place(Operation *op);
  bool canJoin(int64_t group, Operation *op) const;

  llvm::DenseMap<Operation *, int64_t> position_, groupOf_;
  std::vector<SmallVector<Operation *>> groups_;
};

void Grouper::place(Operation *op) {
  for (Value v : op->getOperands()) {
    Operation *def = v.getDefiningOp();
    auto it = def ? groupOf_.find(def) : groupOf_.end();
    if (it == groupOf_.end() || v.getType() != op->getResult(0).getType() ||
        !canJoin(it->second, op))
      continue;
    groups_[it->second].push_back(op);
    groupOf_[op] = it->second;
    return;
  }
  groupOf_[op] = static_cast<int64_t>(groups_.size());
  groups_.push_back({op});
}

// A use of the group's values outside it and before `op` would precede the
// fused op; it also covers an operand of `op` computed from the group by an
// outside op, which would make the group depend on itself.
bool Grouper::canJoin(int64_t group, Operation *op) const {
  for (Operation *member : groups_[group])
    for (Operation *user : member->getUsers()) {
      auto g = groupOf_.find(user);
      bool inside = g != groupOf_.end() && g->second == group;
      if (!inside && user != op && position_.lookup(user) < position_.lookup(op))
        return false;
    }
  return true;
}

int64_t Grouper::materialise() {
  int64_t formed = 0;
  for (SmallVector<Operation *> &members : groups_) {
    if (members.size() < 2)
      continue;
    llvm::SmallPtrSet<Operation *, 8> inGroup(members.begin(), members.end());
    llvm::SetVector<Value> inputs;
    SmallVector<Value> outputs;
    for (Operation *m : members) {
      for (Value v : m->getOperands())
        if (!inGroup.contains(v.getDefiningOp()))
          inputs.insert(v);
      if (llvm::any_of(m->getUsers(), [&](Operation *u) { return !inGroup.contains(u); }))
        outputs.push_back(m->getResult(0));
    }
    Operation *last = members.back();
    OpBuilder b(last->getContext());
    b.setInsertionPointAfter(last);
    auto fusion = b.create<step::FusionOp>(last->getLoc(), ValueRange(outputs).getTypes(),
                                           inputs.getArrayRef());
    Block *body = b.createBlock(&fusion.getBody());
    IRMapping map;
    for (Value in : inputs)
      map.map(in, body->addArgument(in.getType(), in.getLoc()));
    for (Operation *m : members)
      b.clone(*m, map);
    SmallVector<Value> yielded;
    for (Value out : outputs)
      yielded.push_back(map.lookup(out));
    b.create<step::YieldOp>(last->getLoc(), yielded);
    for (auto [out, result] : llvm::zip(outputs, fusion.getResults()))
      out.replaceUsesWithIf(result, [&](OpOperand &use) {
        return !inGroup.contains(use.getOwner());
      });
    for (Operation *m : llvm::reverse(members))
      m->erase();
    ++formed;
  }
  return formed;
}

struct StepGroupElementwise : expc::impl::StepGroupElementwiseBase<StepGroupElementwise> {
  using StepGroupElementwiseBase::StepGroupElementwiseBase;

  void runOnOperation() override {
    for (auto f : getOperation().getOps<func::FuncOp>()) {
      if (f.isExternal())
        continue;
      int64_t formed = Grouper(f.getBody().front()).materialise();
      if (explain && formed)
        f.emitRemark() << "formed " << formed << " elementwise group" << (formed == 1 ? "" : "s");
    }
  }
};

} // namespace
