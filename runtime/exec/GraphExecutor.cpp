#include "exec/GraphExecutor.h"

#include "exec/Kernels.h"

#include <torch/torch.h>

#include <cmath>

namespace exprt {

void ParameterStore::initialise(const std::vector<ParameterSpec> &specs, uint64_t seed,
                                Placement placement) {
  specs_ = specs;
  tensors_.clear();
  placement_ = std::move(placement);
  torch::manual_seed(seed);
  torch::NoGradGuard noGrad;
  for (const ParameterSpec &s : specs) {
    torch::Tensor t = torch::empty(s.shape, torch::kFloat32);
    if (s.init == "uniform")
      t.uniform_(-s.scale, s.scale);
    else if (s.init == "normal")
      t.normal_(0.0, s.scale);
    else
      t.fill_(s.scale);
    tensors_[s.name] = t.to(placement_.device).requires_grad_(!s.frozen);
  }
}

std::vector<torch::Tensor> ParameterStore::trainable() const {
  std::vector<torch::Tensor> out;
  for (const ParameterSpec &s : specs_)
    if (!s.frozen)
      out.push_back(tensors_.at(s.name));
  return out;
}

void ParameterStore::clamp() {
  torch::NoGradGuard noGrad;
  for (const ParameterSpec &s : specs_)
    if (s.max)
      tensors_.at(s.name).clamp_max_(*s.max);
}

namespace {
bool finite(const torch::Tensor &t) {
  return !t.is_floating_point() || torch::isfinite(t).all().item<bool>();
}
} // namespace

// Runs group `f` of `values` through `runner`; false when it declines.
static bool runGroup(const GroupRunner &runner, const Fusion &f, std::vector<torch::Tensor> &values) {
  std::vector<torch::Tensor> in, out;
  for (int64_t v : f.inputs)
    in.push_back(values[v]);
  if (!runner.run(f, in, out))
    return false;
  for (size_t j = 0; j < f.outputs.size(); ++j)
    values[f.outputs[j]] = out[j];
  return true;
}

// Runs `graph` over `columns`; `check` sees each op's index and result and
// stops the run by returning false. `runner` (may be null) runs the
// elementwise groups; their ops are then not checked one by one.
template <typename Check>
static std::vector<torch::Tensor> runGraph(const Graph &graph, ParameterStore &params,
                                           const std::map<std::string, torch::Tensor> &columns,
                                           int64_t poison, bool inference,
                                           const GroupRunner *runner, Check check) {
  std::vector<torch::Tensor> values(graph.valueCount);
  const torch::Device &device = params.device();
  for (const GraphInput &in : graph.inputs) {
    const torch::Tensor &t = columns.at(in.binding);
    // Pinned batches (the trainer's) copy without blocking the host.
    values[in.id] = t.device() == device ? t : t.to(device, /*non_blocking=*/true);
  }
  std::vector<torch::Tensor> args;
  size_t nextGroup = 0;
  for (size_t i = 0; i < graph.ops.size(); ++i) {
    while (nextGroup < graph.fusions.size() && graph.fusions[nextGroup].first < static_cast<int64_t>(i))
      ++nextGroup;
    if (runner && nextGroup < graph.fusions.size()) {
      const Fusion &f = graph.fusions[nextGroup];
      const bool poisoned = poison >= f.first && poison < f.first + f.count;
      if (f.first == static_cast<int64_t>(i) && !f.kernel.empty() && !poisoned &&
          runGroup(*runner, f, values)) {
        i += static_cast<size_t>(f.count) - 1;
        continue;
      }
    }
    const OpNode &op = graph.ops[i];
    args.clear();
    for (int64_t v : op.operands)
      args.push_back(values[v]);
    if (inference && op.op == "dropout") {
      values[op.results[0]] = args[0];
    } else if (inference && op.attrs.training) { // batch_norm: running statistics, untouched
      OpAttrs a = op.attrs;
      a.training = false;
      values[op.results[0]] = kernelFunction(op.kernel)(args, a, params);
    } else {
      values[op.results[0]] = kernelFunction(op.kernel)(args, op.attrs, params);
    }
    if (static_cast<int64_t>(i) == poison)
      values[op.results[0]] = values[op.results[0]] * std::nan("");
    if (!check(i, values[op.results[0]]))
      return {};
  }
  std::vector<torch::Tensor> out;
  for (int64_t v : graph.outputs)
    out.push_back(values[v]);
  return out;
}

std::vector<torch::Tensor>
GraphExecutor::run(const std::map<std::string, torch::Tensor> &columns) const {
  return runGraph(graph_, params_, columns, poison_, inference_, params_.placement().groups.get(),
                  [](size_t, const torch::Tensor &) { return true; });
}

int64_t GraphExecutor::firstNonFinite(const std::map<std::string, torch::Tensor> &columns) const {
  for (size_t i = 0; i < graph_.inputs.size(); ++i)
    if (!finite(columns.at(graph_.inputs[i].binding)))
      return static_cast<int64_t>(graph_.ops.size() + i);
  int64_t bad = -1;
  runGraph(graph_, params_, columns, poison_, inference_, nullptr, [&](size_t i, const torch::Tensor &t) {
    if (finite(t))
      return true;
    bad = static_cast<int64_t>(i);
    return false;
  });
  return bad;
}

} // namespace exprt
