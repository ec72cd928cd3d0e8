//===- LayerLowerings.h - one step lowering per std.layers layer ----------===//
//
// Each layer of std.layers (stdlib/std/layers.exp) that runs has one entry
// in the registry of LayerLowerings.cpp: a function from the exp.layer op
// and its lowered inputs to step ops. exp-lower-to-step looks layers up
// here, and IR generation refuses a layer with no entry (E0602) at its
// source. Adding a layer: its `extern layer` declaration in layers.exp and
// its entry here (docs/architecture.md, "Adding a layer").
//
//===----------------------------------------------------------------------===//
#pragma once

#include "dialects/exp/ExpDialect.h"

#include "mlir/IR/Builders.h"

#include <optional>
#include <string>

namespace expc {

// What a layer's lowering is given: the op, its inputs as step values, the
// type semantic analysis gave its result (batched), and the graph's services
// (parameters, constants). GraphBuilder in LowerExpToStep.cpp implements it.
class LayerContext {
public:
  LayerContext(expd::LayerOp op, mlir::ArrayRef<mlir::Value> in, std::string name, mlir::RankedTensorType type,
               mlir::OpBuilder &b, bool training, bool frozen)
      : op(op), in(in), name(std::move(name)), type(type), b(b), training(training), frozen(frozen) {}
  virtual ~LayerContext() = default;

  // A handle (MLIR ops are passed by value); mutable because its accessors are not const.
  mutable expd::LayerOp op;
  mlir::ArrayRef<mlir::Value> in;
  std::string name;            // the layer's parameter prefix: ENCODER.LAYER
  mlir::RankedTensorType type; // the result, with the batch (and lead) dimensions
  mlir::OpBuilder &b;
  bool training; // the training graph (dropout active), or an evaluation graph
  bool frozen;   // the layer is inside a frozen encoder

  mlir::Location loc() const { return op.getLoc(); }
  // The per-row result type semantic analysis gave the layer.
  mlir::RankedTensorType rowType() const { return mlir::cast<mlir::RankedTensorType>(op.getType()); }
  // The last dimension of a row (a token's width), 0 for a scalar row.
  int64_t width() const { return rowType().getShape().empty() ? 0 : rowType().getShape().back(); }
  // The layer's arguments from the source (`config`).
  int64_t intArg(llvm::StringRef key) const { return expd::intParam(op.getConfig(), key); }
  double floatArg(llvm::StringRef key, double fallback = 0) const {
    return expd::floatParam(op.getConfig(), key, fallback);
  }
  bool boolArg(llvm::StringRef key, bool fallback) const;
  mlir::IntegerAttr i64(int64_t v) const { return b.getI64IntegerAttr(v); }

  // A parameter `name + suffix` read inside the graph, created once per
  // encoder (PyTorch's initialisation `init` with `scale`); `buffer`: state
  // the step updates itself (batch norm's running statistics), never the optimiser.
  virtual mlir::Value param(llvm::StringRef suffix, mlir::ArrayRef<int64_t> shape, llvm::StringRef init,
                            double scale, bool decay, bool buffer = false) = 0;
  virtual mlir::Value constant(double v) = 0;
  // `built`'s result, after checking that the step op's shape function agrees
  // with `type` (two shape systems; a disagreement is a compiler bug).
  mlir::FailureOr<mlir::Value> checked(mlir::Operation *built);
};

using LayerLowering = mlir::FailureOr<mlir::Value> (*)(LayerContext &);

// The lowering of layer `name`, or null when it has none.
LayerLowering findLayerLowering(llvm::StringRef name);
// Whether layer `name` lowers to step ops (IR generation's E0602 otherwise).
inline bool hasStepLowering(llvm::StringRef name) { return findLayerLowering(name) != nullptr; }

} // namespace expc
