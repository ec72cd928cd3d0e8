#include "cache/FeatureStore.h"

#include "record/SafeTensors.h"
#include "record/Sha256.h"
#include "exprt/Runtime.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

namespace exprt {
namespace {

constexpr int64_t kChunk = 256;

// The content key of a precomputation: what the graph computes (its plan
// JSON), with which values (its parameters), on what (its input columns over
// the rows, in order), by which runtime (kernels may change between versions).
// `inputs`: each input column over the rows, by binding.
std::string contentKey(const Graph &g, const ParameterStore &params,
                       const std::map<std::string, torch::Tensor> &inputs) {
  Sha256 h;
  h.update(std::string("exp-features/1")).update(std::string(runtimeVersion())).update(g.json);
  for (const OpNode &op : g.ops)
    if (op.op == "param")
      h.update(op.attrs.parameter).update(params.get(op.attrs.parameter));
  for (const auto &[column, values] : inputs)
    h.update(column).update(values);
  return h.hex();
}

std::vector<torch::Tensor> compute(const Graph &g, ParameterStore &params,
                                   const std::map<std::string, torch::Tensor> &inputs,
                                   int64_t rows) {
  torch::NoGradGuard noGrad;
  GraphExecutor exec(g, params);
  std::vector<std::vector<torch::Tensor>> parts(g.outputs.size());
  for (int64_t begin = 0; begin < rows; begin += kChunk) {
    std::map<std::string, torch::Tensor> chunk;
    for (const auto &[binding, values] : inputs)
      chunk[binding] = values.slice(0, begin, std::min(begin + kChunk, rows));
    std::vector<torch::Tensor> out = exec.run(chunk);
    for (size_t i = 0; i < out.size(); ++i) // the store lives on the host, as the screen does
      parts[i].push_back(out[i].to(torch::kCPU));
  }
  std::vector<torch::Tensor> outputs;
  for (auto &p : parts)
    outputs.push_back(torch::cat(p, 0));
  return outputs;
}

// A cached entry is used only when it holds every output for every row.
bool load(const std::string &path, const Graph &g, int64_t rows, std::vector<torch::Tensor> &out) {
  if (!std::filesystem::exists(path))
    return false;
  SafeTensors file;
  if (Status s = readSafeTensors(path, file); !s) {
    std::fprintf(stderr, "warning: %s; computing the features again\n", s.message().c_str());
    return false;
  }
  out.clear();
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    auto it = file.tensors.find("output." + std::to_string(i));
    if (it == file.tensors.end() || it->second.dim() == 0 || it->second.size(0) != rows ||
        it->second.scalar_type() != torch::kFloat32) {
      std::fprintf(stderr, "warning: %s: does not hold output %zu for %lld rows; computing the "
                           "features again\n", path.c_str(), i, (long long)rows);
      return false;
    }
    out.push_back(it->second);
  }
  return true;
}

} // namespace

Status FeatureStore::build(const Plan &plan, const Screen &screen, ParameterStore &params,
                           const std::vector<int64_t> &rows, const std::string &cacheDir,
                           bool progress) {
  torch::Tensor rowIds = torch::tensor(rows, torch::kInt64);
  rowOf_ = torch::full({screen.perturbation.size(0)}, -1, torch::kInt64);
  rowOf_.index_put_({rowIds}, torch::arange(static_cast<int64_t>(rows.size()), torch::kInt64));
  for (const std::string &name : plan.precompute) {
    const Graph &g = plan.graphs.at(name);
    for (const GraphInput &in : g.inputs)
      if (!screen.hasColumn(in.column))
        return Status::error(ErrorKind::InputMismatch, "precomputed graph `" + name + "` reads column `" + in.column +
                             "`, which the dataset does not have");
    auto start = std::chrono::steady_clock::now();
    // Gathered once: hashed for the key, then computed on when not cached.
    std::map<std::string, torch::Tensor> inputs;
    for (const GraphInput &in : g.inputs)
      inputs[in.binding] = screen.column(in.column, rowIds);
    PrecomputeRecord rec{name, contentKey(g, params, inputs), static_cast<int64_t>(rows.size())};
    std::string path;
    if (!cacheDir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(cacheDir, ec);
      path = cacheDir + "/" + rec.key + ".safetensors";
    }
    std::vector<torch::Tensor> &out = outputs_[name];
    rec.fromCache = !path.empty() && load(path, g, rec.rows, out);
    if (!rec.fromCache) {
      out = compute(g, params, inputs, rec.rows);
      if (!path.empty()) {
        SafeTensors file;
        for (size_t i = 0; i < out.size(); ++i)
          file.tensors["output." + std::to_string(i)] = out[i];
        file.metadata = {{"graph", name}, {"rows", std::to_string(rec.rows)}};
        // A cache that cannot be written costs time, not correctness.
        if (Status s = writeSafeTensors(path, file); !s)
          std::fprintf(stderr, "warning: %s; the features are not cached\n", s.message().c_str());
      }
    }
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (progress)
      std::fprintf(stderr, "precompute: %s over %lld rows, %s (%.2fs)\n", name.c_str(),
                   (long long)rec.rows, rec.fromCache ? "read from the cache" : "computed",
                   rec.seconds);
    records_.push_back(std::move(rec));
  }
  return Status::ok();
}

std::map<std::string, torch::Tensor> FeatureStore::inputs(const Graph &graph, const Screen &screen,
                                                         const torch::Tensor &sites,
                                                         uint64_t draw) const {
  std::map<std::string, torch::Tensor> out;
  torch::Tensor at; // the batch's rows in the outputs, once any input needs them
  for (const GraphInput &in : graph.inputs) {
    if (in.features.empty()) {
      out[in.binding] = screen.column(in.column, sites, draw);
      continue;
    }
    if (!at.defined()) {
      at = rowOf_.index_select(0, sites);
      TORCH_CHECK(at.min().item<int64_t>() >= 0,
                  "precomputed features do not cover every row of the batch");
    }
    out[in.binding] = outputs_.at(in.features)[in.output].index_select(0, at);
  }
  return out;
}

} // namespace exprt
