#include "exec/GraphExecutor.h"

#include "exec/Kernels.h"

#include <torch/torch.h>

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

std::vector<torch::Tensor>
GraphExecutor::run(const std::map<std::string, torch::Tensor> &columns) const {
  std::vector<torch::Tensor> values(graph_.valueCount);
  for (const GraphInput &in : graph_.inputs)
    values[in.id] = columns.at(in.binding);
  std::vector<torch::Tensor> args;
  for (const OpNode &op : graph_.ops) {
    args.clear();
    for (int64_t v : op.operands)
      args.push_back(values[v]);
    values[op.results[0]] = kernelFunction(op.kernel)(args, op.attrs, params_);
  }
  std::vector<torch::Tensor> out;
  for (int64_t v : graph_.outputs)
    out.push_back(values[v]);
  return out;
}

} // namespace exprt
