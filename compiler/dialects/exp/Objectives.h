//===- Objectives.h - the std.objectives registry -------------------------===//
//
// Each objective of std.objectives (stdlib/std/objectives.exp) that lowers to
// one `step.loss` has one entry in Objectives.cpp: its data arguments in
// exp.objective's operand order (IR generation), what each must be and which
// must share a width (the op's verifier), and how it lowers — the parameters
// it learns and the settings the runtime reads (exp-lower-to-step). The
// runtime's half is its entry in runtime/losses/Objectives.cpp. CLIP
// lowers otherwise (exp.contrastive, the fused loss).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "mlir/IR/Builders.h"
#include "mlir/IR/OperationSupport.h"

#include <string>
#include <vector>

namespace expc::expd {

// What lowering one objective is given: its settings and inputs, the step
// operands so far (the lowered inputs), and the graph's services.
// exp-lower-to-step's GraphBuilder implements it.
class ObjectiveLowering {
public:
  ObjectiveLowering(mlir::DictionaryAttr cfg, mlir::ValueRange sources, std::string name, mlir::Builder &b)
      : cfg(cfg), sources(sources), name(std::move(name)), b(b) {}
  virtual ~ObjectiveLowering() = default;

  mlir::DictionaryAttr cfg;          // the objective's arguments from the source
  mlir::ValueRange sources;          // its exp-level inputs (types: classes, widths)
  std::string name;                  // its parameters' prefix
  llvm::SmallVector<mlir::Value> operands; // step.loss's operands: the lowered inputs, then what the entry adds
  mlir::NamedAttrList settings;      // step.loss's `params`
  std::string runtimeKind;           // step.loss's `kind` (the runtime's objective), default the name
  mlir::Builder &b;

  double floatArg(llvm::StringRef key, double fallback) const;
  bool boolArg(llvm::StringRef key, bool fallback) const;
  // Passes setting `key` (or its default) to the runtime.
  void keep(llvm::StringRef key, double fallback) { settings.append(key, b.getF64FloatAttr(floatArg(key, fallback))); }
  // A learned parameter `name + suffix` (PyTorch's `init` with `scale`).
  virtual mlir::Value param(llvm::StringRef suffix, llvm::ArrayRef<int64_t> shape, llvm::StringRef init,
                            double scale, bool decay) = 0;
  // The logit scale exp(s) of a temperature-scaled loss: s starts at
  // log(1 / t), learnable (clamped to log(max)) or fixed.
  virtual mlir::Value logitScale(double t, bool learnable, double max) = 0;
};

struct ObjectiveKind {
  llvm::StringRef name;
  std::vector<llvm::StringRef> inputs; // std.objectives' data arguments, in operand order
  // Per input: e a vector embedding, f per-channel features ((sites,)
  // channels, width), l a labels column, g a knowledge graph.
  llvm::StringRef kinds;
  size_t paired; // how many leading embeddings must share a width
  bool views;    // its inputs are two augmented views of the first (SimCLR)
  void (*lower)(ObjectiveLowering &);
};

// The objective named `name`, or null when it does not lower to step.loss.
const ObjectiveKind *findObjectiveKind(llvm::StringRef name);

} // namespace expc::expd
