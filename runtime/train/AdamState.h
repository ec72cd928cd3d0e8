// What the Adam-family optimisers here (FusedAdamW, Lamb) share: evaluating
// the optional closure, and each parameter's moment state, created as zeros.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/torch.h>

namespace exprt {

inline torch::Tensor evaluateClosure(const torch::optim::Optimizer::LossClosure &closure) {
  if (!closure)
    return {};
  torch::AutoGradMode enable(true);
  return closure();
}

// `p`'s state in `opt` (a State with exp_avg and exp_avg_sq), zero moments the
// first time; the moments are contiguous, like a fresh tensor.
template <typename State>
State &adamState(torch::optim::Optimizer &opt, const torch::Tensor &p) {
  std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
  auto it = opt.state().find(key);
  if (it == opt.state().end()) {
    auto s = std::make_unique<State>();
    s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
    s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
    it = opt.state().emplace(key, std::move(s)).first;
  }
  return static_cast<State &>(*it->second);
}

} // namespace exprt
