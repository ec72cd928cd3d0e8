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

// An objective of the table in Objectives.cpp (one entry each: name,
// operands, the operands a data-parallel run gathers, the loss), by its
// index there; parseObjective gives it. Each entry lists its operands.
struct Objective {
  int index = -1;
  bool operator==(const Objective &o) const { return index == o.index; }
};

// The objective named `name` (std.objectives' names: "cwcl" ... "mae");
// false when unknown.
bool parseObjective(const std::string &name, Objective &out);
// parseObjective's result, or an invalid handle (index -1).
Objective objectiveNamed(const std::string &name);
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
