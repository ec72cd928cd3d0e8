//===- InlineNetworks.cpp - flatten network instantiations ----------------===//
//
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "transforms/Passes.h"

#include "dialects/exp/ExpDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"

namespace expc {
#define GEN_PASS_DEF_EXPINLINENETWORKS
#include "transforms/Passes.h.inc"
} // namespace expc

using namespace mlir;
namespace expd = expc::expd;

namespace {

class Flattener {
public:
  explicit Flattener(Operation *scope) : symbols_(scope) {}

  // Inlines every call in `net`, after flattening its callees.
  LogicalResult flatten(expd::NetworkOp net) {
    if (done_.contains(net))
      return success();
    if (!active_.insert(net).second)
      return net.emitOpError() << "calls itself; a network graph must be finite";
    Block &body = net.getBody().front();
    for (expd::CallOp call : llvm::to_vector(body.getOps<expd::CallOp>())) {
      auto callee = symbols_.lookup<expd::NetworkOp>(call.getCallee());
      if (!callee)
        return call.emitOpError() << "'" << call.getCallee() << "' does not name an exp.network";
      if (failed(flatten(callee)))
        return failure();
      inlineCall(call, callee);
    }
    active_.erase(net);
    done_.insert(net);
    return success();
  }

private:
  static void inlineCall(expd::CallOp call, expd::NetworkOp callee) {
    Block &from = callee.getBody().front();
    IRMapping map;
    map.map(from.getArguments(), call.getInputs());
    OpBuilder b(call);
    auto prefixed = [&](StringAttr name) {
      return b.getStringAttr(call.getName() + "." + name.getValue());
    };
    // A call over inputs with leading dimensions beyond the callee's
    // parameters (`ResNet(per_channel(x))`: each channel an image) maps the
    // callee over them: every value inside gains those dimensions.
    SmallVector<int64_t> lead;
    if (!call.getInputs().empty()) {
      auto given = cast<RankedTensorType>(call.getInputs()[0].getType());
      auto declared = cast<RankedTensorType>(from.getArgument(0).getType());
      lead.assign(given.getShape().begin(), given.getShape().begin() + (given.getRank() - declared.getRank()));
    }
    for (Operation &op : from.without_terminator()) {
      Operation *copy = b.clone(op, map);
      if (auto name = copy->getAttrOfType<StringAttr>("name"))
        copy->setAttr("name", prefixed(name));
      if (!lead.empty())
        for (OpResult r : copy->getResults()) {
          auto t = cast<RankedTensorType>(r.getType());
          SmallVector<int64_t> shape(lead);
          shape.append(t.getShape().begin(), t.getShape().end());
          r.setType(RankedTensorType::get(shape, t.getElementType()));
        }
    }
    call.getResult().replaceAllUsesWith(map.lookup(from.getTerminator()->getOperand(0)));
    call.erase();
  }

  SymbolTable symbols_;
  llvm::DenseSet<Operation *> done_, active_;
};

struct ExpInlineNetworks : expc::impl::ExpInlineNetworksBase<ExpInlineNetworks> {
  void runOnOperation() override {
    for (auto exp : llvm::to_vector(getOperation().getOps<expd::ExperimentOp>())) {
      Flattener flattener(exp);
      Block &body = exp.getBody().front();
      for (auto net : llvm::to_vector(body.getOps<expd::NetworkOp>()))
        if (failed(flattener.flatten(net)))
          return signalPassFailure();
      // Networks only calls reached are now unused.
      for (auto net : llvm::to_vector(body.getOps<expd::NetworkOp>()))
        if (SymbolTable::symbolKnownUseEmpty(net, exp))
          net.erase();
    }
  }
};

} // namespace
