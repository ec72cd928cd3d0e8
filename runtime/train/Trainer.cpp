#include "train/Trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

namespace exprt {
namespace {

double param(const nlohmann::json &p, const char *name, double fallback) {
  auto it = p.find(name);
  return it != p.end() && it->is_number() ? it->get<double>() : fallback;
}

// The two parameter groups of an optimiser of kind `Opt`: weight decay `wd` on
// `decay`, none on `noDecay`; both otherwise configured as `opts`.
template <typename Opt, typename Options>
std::unique_ptr<torch::optim::Optimizer> withDecayGroups(const Options &opts, double wd,
                                                         std::vector<torch::Tensor> decay,
                                                         std::vector<torch::Tensor> noDecay) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::move(decay), std::make_unique<Options>(Options(opts).weight_decay(wd)));
  groups.emplace_back(std::move(noDecay), std::make_unique<Options>(Options(opts).weight_decay(0)));
  return std::make_unique<Opt>(std::move(groups), opts);
}

// Optimiser with two parameter groups: weight decay on weights, none on
// biases, norms and temperatures (the compiler marks which is which).
Status makeOptimizer(const TrainSpec &spec, const ParameterStore &params,
                     std::unique_ptr<torch::optim::Optimizer> &out) {
  std::vector<torch::Tensor> decay, noDecay;
  for (const ParameterSpec &s : params.specs())
    if (!s.frozen)
      (s.decay ? decay : noDecay).push_back(params.get(s.name));
  const nlohmann::json &p = spec.optimizerParams;
  double lr = param(p, "lr", 0), wd = param(p, "weight_decay", 0);
  if (!(lr > 0))
    return Status::error("optimizer `" + spec.optimizer + "` needs a positive `lr`");
  if (spec.optimizer == "adamw") {
    auto opts = torch::optim::AdamWOptions(lr)
                    .betas({param(p, "beta1", 0.9), param(p, "beta2", 0.999)})
                    .eps(param(p, "eps", 1e-8));
    out = withDecayGroups<torch::optim::AdamW>(opts, wd, std::move(decay), std::move(noDecay));
    return Status::ok();
  }
  if (spec.optimizer == "sgd") {
    auto opts = torch::optim::SGDOptions(lr).momentum(param(p, "momentum", 0.9));
    out = withDecayGroups<torch::optim::SGD>(opts, wd, std::move(decay), std::move(noDecay));
    return Status::ok();
  }
  return Status::error("unknown optimizer `" + spec.optimizer + "`");
}

} // namespace

Status train(const Plan &plan, const Screen &screen, const FeatureStore &features,
             ParameterStore &params, bool progress, TrainResult &result) {
  const TrainSpec &spec = plan.train;
  const Graph &graph = plan.graphs.at(spec.graph);
  for (const GraphInput &in : graph.inputs)
    if (in.features.empty() && !screen.hasColumn(in.column))
      return Status::error("training graph reads column `" + in.column +
                           "`, which the dataset does not have");
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (Status s = makeOptimizer(spec, params, opt); !s)
    return s;
  GraphExecutor exec(graph, params);

  std::vector<int64_t> order = screen.trainSites;
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t batch = std::min<int64_t>(spec.batch, n);
  // Contrastive losses need full batches; drop the remainder (like drop_last).
  const int64_t stepsPerEpoch = std::max<int64_t>(1, n / batch);
  std::mt19937_64 rng(static_cast<uint64_t>(spec.seed) * 0x9E3779B97F4A7C15ull + 1);
  auto start = std::chrono::steady_clock::now();
  for (int64_t epoch = 0; epoch < spec.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double sum = 0;
    for (int64_t step = 0; step < stepsPerEpoch; ++step) {
      torch::Tensor idx =
          torch::tensor(std::vector<int64_t>(order.begin() + step * batch,
                                             order.begin() + (step + 1) * batch),
                        torch::kInt64);
      opt->zero_grad();
      torch::Tensor loss = exec.run(features.inputs(graph, screen, idx))[0];
      double value = loss.item<double>();
      if (!std::isfinite(value))
        return Status::error("training `" + spec.name + "` diverged: the loss is " +
                             std::to_string(value) + " at epoch " + std::to_string(epoch + 1) +
                             ", step " + std::to_string(step + 1) +
                             "; lower the learning rate or check the inputs");
      loss.backward();
      opt->step();
      params.clamp();
      sum += value;
      ++result.steps;
    }
    result.epochLoss.push_back(sum / double(stepsPerEpoch));
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (progress) {
      std::fprintf(stderr, "epoch %3lld/%lld  loss %.4f  %6.1fs\n", (long long)(epoch + 1),
                   (long long)spec.epochs, result.epochLoss.back(), elapsed);
      std::fflush(stderr);
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return Status::ok();
}

} // namespace exprt
