#include "exec/GraphExecutor.h"

#include "exec/Kernels.h"

#include <torch/torch.h>

#include <cmath>

namespace exprt {

void ParameterStore::initialise(const std::vector<ParameterSpec> &specs, uint64_t seed) {
  specs_ = specs;
  tensors_.clear();
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
    tensors_[s.name] = t.requires_grad_(!s.frozen);
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

// Runs `graph` over `columns`; `check` sees each op's index and result and
// stops the run by returning false.
template <typename Check>
static std::vector<torch::Tensor> runGraph(const Graph &graph, ParameterStore &params,
                                           const std::map<std::string, torch::Tensor> &columns,
                                           int64_t poison, bool inference, Check check) {
  std::vector<torch::Tensor> values(graph.valueCount);
  for (const GraphInput &in : graph.inputs)
    values[in.id] = columns.at(in.binding);
  std::vector<torch::Tensor> args;
  for (size_t i = 0; i < graph.ops.size(); ++i) {
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
  return runGraph(graph_, params_, columns, poison_, inference_, [](size_t, const torch::Tensor &) { return true; });
}

int64_t GraphExecutor::firstNonFinite(const std::map<std::string, torch::Tensor> &columns) const {
  for (size_t i = 0; i < graph_.inputs.size(); ++i)
    if (!finite(columns.at(graph_.inputs[i].binding)))
      return static_cast<int64_t>(graph_.ops.size() + i);
  int64_t bad = -1;
  runGraph(graph_, params_, columns, poison_, inference_, [&](size_t i, const torch::Tensor &t) {
    if (finite(t))
      return true;
    bad = static_cast<int64_t>(i);
    return false;
  });
  return bad;
}

} // namespace exprt
