// The stdlib's objectives beyond CLIP (std.objectives, docs/objectives.md),
// each a composition of LibTorch ops: autograd gives the gradients, and
// tests/unit/ObjectivesTest.cpp checks every one in float64 against a direct
// transcription of its formula and finite differences. The compiler lowers
// an objective to one `step.loss` op whose operands are listed below, in
// order; learnable scalars (logit scales, biases) and heads are parameters
// the compiler creates and passes in.
#pragma once

#include <map>
#include <string>
#include <torch/types.h>
#include <vector>

namespace exprt {

enum class Objective {
  Cwcl,          // image [N,d], text [N,d], features [N,(M,)C,F], scale []
  Cloob,         // a [N,d], b [N,d]; inverse_temperature, hopfield_beta
  Siglip,        // a, b, scale [], bias []
  S2l,           // a, b, targets [N,t], scale [], bias []
  Supcon,        // a, b, labels [N]; temperature
  Paclr,         // treated1, control1, treated2, control2, labels [N]; temperature
  KgSoftTargets, // x [N,d], labels [N], graph [K,K]; tau
  KgLaplacian,   // x, labels, graph [K,K]
  Classify,      // x [N,d], labels, weight [K,d], bias [K]; label_smoothing
  Arcface,       // x, labels, weight [K,d]; scale, margin, label_smoothing
  Simclr,        // view1 [N,d], view2 [N,d]; temperature
  Mae,           // images [N,C,H,W], reconstruction [N,C*H*W], mask [N,P]; patch
};

// "cwcl" ... "mae" (the names above in snake case); false when unknown.
bool parseObjective(const std::string &name, Objective &out);
// How many operands the objective's step.loss takes.
size_t objectiveArity(Objective kind);
// The operands of `kind` that hold a row per batch row and meet other rows
// in its terms (negatives, class means over the batch): a data-parallel run
// gathers them from every rank, so the loss is over the global batch. Empty
// for objectives that are a mean of per-row terms (classify, arcface, mae),
// whose mean over ranks is already the global batch's.
std::vector<int> objectiveBatchOperands(Objective kind);

// The loss (a 0-d tensor) of `kind` over its operands; `params` holds the
// objective's scalar settings by name (missing ones take the stdlib default).
torch::Tensor objectiveLoss(Objective kind, const std::vector<torch::Tensor> &in,
                            const std::map<std::string, double> &params);

// MAE's patch mask: 1 for each of the `fraction` of an image's patches that
// are hidden, per row, from the global RNG (training graphs draw it anew).
torch::Tensor randomPatchMask(int64_t rows, int64_t patches, double fraction,
                              const torch::TensorOptions &options);

} // namespace exprt
