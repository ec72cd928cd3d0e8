// The plan artifact as the runtime sees it: parsed from JSON, validated, with
// every op resolved to a kernel before anything runs (docs/artifact.md).
#pragma once

#include "exprt/Status.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "contract/PlanFormat.h"

namespace exprt {

// The format this runtime accepts: the plan contract's, defined once for both halves.
inline constexpr int kPlanFormatVersion = expcontract::kPlanFormatVersion;

struct ParameterSpec {
  std::string name;
  std::vector<int64_t> shape;
  std::string init; // uniform | normal | constant
  double scale = 0;
  bool decay = true;
  std::optional<double> max;
  bool frozen = false; // no gradient, no optimiser updates
  // Pretrained: the tensor `weightsName` of safetensors file `weightsFile`
  // (relative to the .exp file) replaces the initial value.
  std::string weightsFile, weightsName;
};

// Attributes of one op, decoded once at load time.
struct OpAttrs {
  std::string parameter; // param
  double value = 0;      // constant
  int64_t stride = 1, padding = 0, kernel = 2, copies = 1;
  int64_t patch = 1, heads = 1, index = 0, from = 0, at = 0; // token ops
  bool transposeB = false;
  bool training = false;      // batch_norm: batch statistics (run as false for validation losses)
  double eps = 1e-5, p = 0;   // layer_norm, batch_norm, dropout
  double momentum = 0.1;      // batch_norm
  std::vector<int64_t> shape; // reshape: the per-row result shape
  std::string kind; // contrastive_loss: clip | infoloob; loss: the objective
  int variant = 0;  // `kind`, decoded by the kernel's parser at load time
  std::map<std::string, double> params; // loss: the objective's scalar settings
};

struct OpNode {
  std::string op;
  std::vector<int64_t> operands, results;
  OpAttrs attrs;
  std::string loc; // "file.exp:line:col" when the compiler knew it
  int kernel = -1; // index into the kernel table (exec/Kernels.h, bindKernels)
};

// A graph input reads a dataset column, or one output of a precomputed
// features graph (`features`/`output`) for the rows of the batch.
struct GraphInput {
  int64_t id;
  std::string column;   // empty when `features` is set
  int64_t classes = 0;  // a labels column's class count (0: none declared)
  std::string features; // the precompute graph
  // Side information (column "side:NAME"): {kind, key, params}, featurised
  // by the runtime before training (side/SideTables.h).
  nlohmann::json side;
  int64_t output = 0;
  std::vector<int64_t> shape;
  std::string dtype;
  // > 0: an image column drawn as augmented view `view` (SimCLR's two views
  // of the same rows), bound as "COLUMN@view1", "COLUMN@view2".
  int64_t view = 0;
  // What a caller binds it to in GraphExecutor::run: the column's name (with
  // its view), or "features:GRAPH/OUTPUT".
  std::string binding;
};

// A run of elementwise ops (ops[first, first+count)) the compiler grouped for
// one kernel; the CPU runtime runs its ops one by one.
struct Fusion {
  int64_t first = 0, count = 0;
  std::vector<int64_t> inputs, outputs;
  std::string kernel; // its generated kernel in the plan's PTX ("" = none)
};

// A `cuda` plan's generated kernels: one PTX module (docs/gpu.md).
struct GpuKernels {
  std::string arch, ptx;
  int64_t block = 0; // threads per block
};

struct Graph {
  std::string name;
  std::string json; // the graph as the plan wrote it: part of feature cache keys
  std::vector<GraphInput> inputs;
  std::vector<OpNode> ops;
  std::vector<int64_t> outputs;
  std::vector<Fusion> fusions;
  int64_t valueCount = 0;
};

struct TrainSpec {
  std::string name, graph;
  int64_t epochs = 1, batch = 2, seed = 0;
  int64_t steps = 0;      // optimiser steps; > 0 replaces `epochs`
  int64_t accumulate = 1; // batches per optimiser step
  std::string optimizer;  // adamw | sgd | lamb
  nlohmann::json optimizerParams;
  std::string schedule = "constant_lr"; // | warmup_cosine | one_cycle | reduce_on_plateau
  nlohmann::json scheduleParams = nlohmann::json::object();
  double clipGradNorm = 0;       // 0: no clipping
  std::string precision = "fp32"; // | bf16 (autocast)
  bool deterministic = true;
  // Stop after this many epochs without a lower validation loss; 0: never.
  int64_t earlyStopPatience = 0;
};

// Training-time augmentations of the image columns (data.augment).
struct AugmentSpec {
  double crop = 1;      // random resized crop: minimum kept area fraction; 1 = off
  bool flip = false;    // random horizontal and vertical flips
  bool rot90 = false;   // random multiple-of-90-degree rotation
  double intensity = 0; // per-channel scale/shift jitter amplitude
  bool any() const { return crop < 1 || flip || rot90 || intensity > 0; }
};

struct EvalSpec {
  std::string name, metric;
  std::vector<std::string> graphs;
  nlohmann::json options;
};

struct Plan {
  int formatVersion = 0;
  std::string buildId, sourcePath, sourceSha256, target;
  std::string sha256; // of the plan's text: checkpoints name the plan they belong to
  std::string dataName, dataKind;
  nlohmann::json dataParams;
  AugmentSpec augment;
  double valFraction = 0; // of the training wells, kept aside for validation
  int64_t bag = 1;        // > 1: rows are wells, image columns bags of sites
  // The dataset block's row selections: "hold_out", "keep", "drop" -> column
  // -> values, as the source's metadata writes them.
  std::map<std::string, std::map<std::string, std::vector<std::string>>> select;
  // data.hold_out_fraction: groups of `holdOutBy` held out at random, within
  // each value of `holdOutStratify` ("" = none); 0 = none.
  double holdOutFraction = 0;
  std::string holdOutBy = "well", holdOutStratify;
  std::vector<ParameterSpec> parameters;
  std::map<std::string, Graph> graphs;
  TrainSpec train;
  std::vector<EvalSpec> evaluations;
  std::vector<std::string> precompute; // graphs computed once over the training rows
  GpuKernels gpu;                      // empty unless compiled with --target cuda
};

// `params[name]` when it is a number, else `fallback` (optimizer and schedule
// parameters).
double numberOr(const nlohmann::json &params, const char *name, double fallback);

// `path` as the spec means it: a relative path is relative to the .exp file
// (`sourcePath`), as imports are.
std::string specPath(const Plan &plan, const std::string &path);

// Parses and validates a plan against its format and the plan contract
// (contract/StepOps.h); errors name `origin` and the JSON path. Its ops are
// not yet bound to kernels: exec/Kernels.h's parsePlan does both.
Status readPlan(const std::string &text, const std::string &origin, Plan &plan);
// Whether the loader reads op attribute `name` (the plan contract test).
bool planReadsAttribute(std::string_view name);

} // namespace exprt
