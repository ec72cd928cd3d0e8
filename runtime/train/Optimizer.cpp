#include "train/Optimizer.h"

#include "train/FusedAdamW.h"
#include "train/Lamb.h"

#include <torch/torch.h>

namespace exprt {
namespace {

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

std::string stateKey(const torch::Tensor &p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

// The tensor slots of each kind's per-parameter state, and how to reach them.
template <typename State> struct Slots;
template <> struct Slots<torch::optim::AdamWParamState> {
  static std::vector<std::pair<const char *, torch::Tensor *>> of(torch::optim::AdamWParamState &s) {
    return {{"exp_avg", &s.exp_avg()}, {"exp_avg_sq", &s.exp_avg_sq()}};
  }
};
template <> struct Slots<LambParamState> {
  static std::vector<std::pair<const char *, torch::Tensor *>> of(LambParamState &s) {
    return {{"exp_avg", &s.exp_avg()}, {"exp_avg_sq", &s.exp_avg_sq()}};
  }
};
template <> struct Slots<torch::optim::SGDParamState> {
  static std::vector<std::pair<const char *, torch::Tensor *>> of(torch::optim::SGDParamState &s) {
    return {{"momentum_buffer", &s.momentum_buffer()}};
  }
};
template <typename State> constexpr bool kHasStep = !std::is_same_v<State, torch::optim::SGDParamState>;

template <typename State>
void saveState(torch::optim::Optimizer &opt,
               const std::vector<std::pair<std::string, torch::Tensor>> &params,
               std::map<std::string, torch::Tensor> &out) {
  for (const auto &[name, p] : params) {
    auto it = opt.state().find(stateKey(p));
    if (it == opt.state().end())
      continue;
    auto &s = static_cast<State &>(*it->second);
    for (auto [slot, t] : Slots<State>::of(s))
      if (t->defined())
        out["optim/" + name + "/" + slot] = t->detach().clone();
    if constexpr (kHasStep<State>)
      out["optim/" + name + "/step"] = torch::tensor(s.step(), torch::kInt64);
  }
}

template <typename State>
Status restoreState(torch::optim::Optimizer &opt,
                    const std::vector<std::pair<std::string, torch::Tensor>> &params,
                    const std::map<std::string, torch::Tensor> &in) {
  opt.state().clear();
  for (const auto &[name, p] : params) {
    auto s = std::make_unique<State>();
    bool any = false;
    for (auto [slot, t] : Slots<State>::of(*s)) {
      auto it = in.find("optim/" + name + "/" + slot);
      if (it == in.end())
        continue;
      if (it->second.sizes() != p.sizes() || it->second.scalar_type() != p.scalar_type())
        return Status::error(ErrorKind::CheckpointMismatch, "optimizer state `optim/" + name + "/" + slot +
                             "` does not match the parameter's shape or dtype");
      *t = it->second.clone().to(p.device()); // checkpoints hold host tensors
      any = true;
    }
    if constexpr (kHasStep<State>) {
      auto it = in.find("optim/" + name + "/step");
      if (any && (it == in.end() || it->second.numel() != 1))
        return Status::error(ErrorKind::CheckpointInvalid, "optimizer state `optim/" + name + "/step` is missing");
      if (any)
        s->step(it->second.template item<int64_t>());
    }
    if (any)
      opt.state()[stateKey(p)] = std::move(s);
  }
  return Status::ok();
}

} // namespace

TrainOptimizer::~TrainOptimizer() = default;

Status TrainOptimizer::create(const TrainSpec &spec, const ParameterStore &params,
                              std::unique_ptr<TrainOptimizer> &out) {
  std::unique_ptr<TrainOptimizer> o(new TrainOptimizer());
  std::vector<torch::Tensor> decay, noDecay;
  for (const ParameterSpec &s : params.specs())
    if (!s.frozen) {
      (s.decay ? decay : noDecay).push_back(params.get(s.name));
      o->params_.emplace_back(s.name, params.get(s.name));
    }
  const nlohmann::json &p = spec.optimizerParams;
  double lr = numberOr(p, "lr", 0), wd = numberOr(p, "weight_decay", 0);
  if (!(lr > 0))
    return Status::error(ErrorKind::PlanInvalid, "optimizer `" + spec.optimizer + "` needs a positive `lr`");
  o->kind_ = spec.optimizer;
  o->baseLr_ = lr;
  if (spec.optimizer == "adamw") {
    auto opts = torch::optim::AdamWOptions(lr)
                    .betas({numberOr(p, "beta1", 0.9), numberOr(p, "beta2", 0.999)})
                    .eps(numberOr(p, "eps", 1e-8));
    o->opt_ = withDecayGroups<FusedAdamW>(opts, wd, std::move(decay), std::move(noDecay));
  } else if (spec.optimizer == "sgd") {
    auto opts = torch::optim::SGDOptions(lr)
                    .momentum(numberOr(p, "momentum", 0.9))
                    .nesterov(p.value("nesterov", false));
    o->opt_ = withDecayGroups<torch::optim::SGD>(opts, wd, std::move(decay), std::move(noDecay));
  } else if (spec.optimizer == "lamb") {
    auto opts = LambOptions(lr)
                    .beta1(numberOr(p, "beta1", 0.9))
                    .beta2(numberOr(p, "beta2", 0.999))
                    .eps(numberOr(p, "eps", 1e-6));
    o->opt_ = withDecayGroups<Lamb>(opts, wd, std::move(decay), std::move(noDecay));
  } else {
    return Status::error(ErrorKind::PlanUnsupported, "unknown optimizer `" + spec.optimizer + "`");
  }
  out = std::move(o);
  return Status::ok();
}

void TrainOptimizer::setLr(double lr) {
  for (auto &g : opt_->param_groups())
    g.options().set_lr(lr);
}

void TrainOptimizer::zeroGrad() { opt_->zero_grad(); }
void TrainOptimizer::step() { opt_->step(); }

bool TrainOptimizer::capturable() const { return kind_ == "adamw"; }
int64_t TrainOptimizer::groupCount() const { return static_cast<int64_t>(opt_->param_groups().size()); }
torch::Tensor TrainOptimizer::nextCoefficients() {
  return static_cast<FusedAdamW &>(*opt_).nextCoefficients();
}
void TrainOptimizer::stepWith(const torch::Tensor &coefficients) {
  static_cast<FusedAdamW &>(*opt_).stepWith(coefficients);
}

void TrainOptimizer::save(std::map<std::string, torch::Tensor> &out) const {
  if (kind_ == "adamw")
    saveState<torch::optim::AdamWParamState>(*opt_, params_, out);
  else if (kind_ == "sgd")
    saveState<torch::optim::SGDParamState>(*opt_, params_, out);
  else
    saveState<LambParamState>(*opt_, params_, out);
}

Status TrainOptimizer::restore(const std::map<std::string, torch::Tensor> &in) {
  if (kind_ == "adamw")
    return restoreState<torch::optim::AdamWParamState>(*opt_, params_, in);
  if (kind_ == "sgd")
    return restoreState<torch::optim::SGDParamState>(*opt_, params_, in);
  return restoreState<LambParamState>(*opt_, params_, in);
}

} // namespace exprt
