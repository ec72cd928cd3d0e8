#include "exec/GraphExecutor.h"

#include "exec/Faults.h"
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

std::string shapeText(c10::IntArrayRef dims, bool rows) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + (i == 0 && rows ? std::string("rows") : std::to_string(dims[i]));
  return s + "]";
}

// Data of another shape than the plan was compiled for (a spec's
// image_size or channels that are not the files', a plan edited by hand)
// is refused before the first op, naming the input, rather than by
// whichever kernel first trips over it. Dimension 0 is the rows.
void checkInputShape(const Graph &graph, const GraphInput &in, const torch::Tensor &t) {
  if (in.shape.empty())
    return;
  bool same = t.dim() == static_cast<int64_t>(in.shape.size());
  for (size_t d = 1; same && d < in.shape.size(); ++d)
    same = in.shape[d] < 0 || t.size(static_cast<int64_t>(d)) == in.shape[d];
  if (!same)
    throw InputShapeMismatch("graph `" + graph.name + "`, input `" + in.binding + "`: the data gives " +
                    shapeText(t.sizes(), true) + " per batch, but the plan was compiled for " +
                    shapeText(in.shape, true) +
                    " (the dataset's files are not what the spec declares: its image_size, channels or dim)");
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
    checkInputShape(graph, in, t);
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
    try {
      if (inference && op.op == "dropout") {
        values[op.results[0]] = args[0];
      } else if (inference && op.attrs.training) { // batch_norm: running statistics, untouched
        OpAttrs a = op.attrs;
        a.training = false;
        values[op.results[0]] = kernelFunction(op.kernel)(args, a, params);
      } else {
        values[op.results[0]] = kernelFunction(op.kernel)(args, op.attrs, params);
      }
    } catch (const c10::Error &e) {
      if (!outOfMemory(e).empty())
        throw;
      const std::string what = e.what_without_backtrace();
      throw OpFailure("graph `" + graph.name + "`, op " + std::to_string(i) + " `" + op.op + "`" +
                      (op.loc.empty() ? "" : " at " + op.loc) + ": " + what.substr(0, what.find('\n')));
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
