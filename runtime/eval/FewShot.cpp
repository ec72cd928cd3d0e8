#include "eval/FewShot.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace exprt {
namespace {

struct Split {
  std::vector<int64_t> train, val, test;
};

// Per class, in a seeded shuffle: `shots` to train, one to validation when
// two remain, the rest to test.
Split splitRows(const std::vector<int64_t> &cls, int64_t classes, int64_t shots, std::mt19937_64 &rng) {
  std::vector<std::vector<int64_t>> members(classes);
  for (int64_t i = 0; i < int64_t(cls.size()); ++i)
    members[cls[i]].push_back(i);
  Split s;
  for (std::vector<int64_t> &m : members) {
    std::shuffle(m.begin(), m.end(), rng);
    const int64_t n = int64_t(m.size()), t = std::min(shots, n);
    s.train.insert(s.train.end(), m.begin(), m.begin() + t);
    int64_t next = t;
    if (n - t >= 2)
      s.val.push_back(m[next++]);
    s.test.insert(s.test.end(), m.begin() + next, m.end());
  }
  return s;
}

torch::Tensor rowsOf(const std::vector<int64_t> &rows) { return torch::tensor(rows, torch::kInt64); }

// Top-k accuracy of `logits` against `target` for each k.
std::map<int64_t, double> topk(const torch::Tensor &logits, const torch::Tensor &target,
                               const std::vector<int64_t> &ks) {
  std::map<int64_t, double> out;
  if (logits.size(0) == 0)
    return out;
  // Rank of the true class: 1 + classes scored higher (ties to the lower id).
  torch::Tensor truth = logits.gather(1, target.unsqueeze(1));
  torch::Tensor ids = torch::arange(logits.size(1), torch::kInt64).unsqueeze(0);
  torch::Tensor above = (logits > truth) | ((logits == truth) & (ids < target.unsqueeze(1)));
  torch::Tensor rank = above.sum(1) + 1;
  for (int64_t k : ks)
    out[k] = (rank <= k).to(torch::kFloat64).mean().item<double>();
  return out;
}

} // namespace

FewShotResult fewShotProbe(const torch::Tensor &rows, const std::vector<int64_t> &label,
                           const FewShotOptions &o, uint64_t seed) {
  // Dense class ids.
  std::map<int64_t, int64_t> ids;
  for (int64_t l : label)
    ids.emplace(l, 0);
  int64_t next = 0;
  for (auto &[l, id] : ids)
    id = next++;
  std::vector<int64_t> cls;
  for (int64_t l : label)
    cls.push_back(ids[l]);
  const int64_t classes = int64_t(ids.size());
  torch::Tensor x = rows.to(torch::kFloat32).contiguous();
  torch::Tensor y = torch::tensor(cls, torch::kInt64);
  FewShotResult result;
  result.classes = classes;
  std::map<int64_t, std::vector<double>> acc;
  for (int64_t s = 0; s < std::max<int64_t>(1, o.seeds); ++s) {
    std::mt19937_64 rng(seed + uint64_t(s));
    Split split = splitRows(cls, classes, o.shots, rng);
    if (s == 0) {
      result.trainRows = int64_t(split.train.size());
      result.testRows = int64_t(split.test.size());
    }
    if (split.test.empty())
      continue;
    // Standardised with the training rows' statistics.
    torch::Tensor train = x.index_select(0, rowsOf(split.train));
    torch::Tensor mean = train.mean(0, true), sd = train.size(0) > 1 ? train.std(0, true, true) : torch::ones_like(mean);
    sd = sd.clamp_min(1e-6);
    auto prep = [&](const std::vector<int64_t> &r) { return (x.index_select(0, rowsOf(r)) - mean) / sd; };
    torch::Tensor xt = prep(split.train), yt = y.index_select(0, rowsOf(split.train));
    torch::Tensor xv = prep(split.val), yv = y.index_select(0, rowsOf(split.val));
    torch::manual_seed(seed + uint64_t(s));
    torch::nn::Linear head(x.size(1), classes);
    torch::optim::Adam opt(head->parameters(), torch::optim::AdamOptions(o.lr));
    std::vector<torch::Tensor> best;
    double bestVal = -1, bestLoss = INFINITY;
    int64_t bad = 0, epoch = 0;
    for (; epoch < o.epochs && (split.val.empty() || bad < o.patience); ++epoch) {
      std::vector<int64_t> order(split.train.size());
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t b0 = 0; b0 < order.size(); b0 += size_t(o.batch)) {
        torch::Tensor idx = torch::tensor(std::vector<int64_t>(order.begin() + b0,
                                                               order.begin() + std::min(order.size(), b0 + size_t(o.batch))),
                                          torch::kInt64);
        opt.zero_grad();
        torch::nn::functional::cross_entropy(head(xt.index_select(0, idx)), yt.index_select(0, idx)).backward();
        opt.step();
      }
      if (split.val.empty())
        continue;
      // Early stopping on validation accuracy, ties broken by validation
      // loss (one validation row per class makes ties common); the best
      // epoch's head is kept.
      torch::NoGradGuard noGrad;
      torch::Tensor logits = head(xv);
      const double v = topk(logits, yv, {1}).at(1);
      const double loss = torch::nn::functional::cross_entropy(logits, yv).item<double>();
      if (v > bestVal || (v == bestVal && loss < bestLoss)) {
        bestVal = v;
        bestLoss = loss;
        bad = 0;
        best.clear();
        for (const torch::Tensor &p : head->parameters())
          best.push_back(p.detach().clone());
      } else {
        ++bad;
      }
    }
    torch::NoGradGuard noGrad;
    if (!best.empty()) {
      auto params = head->parameters();
      for (size_t i = 0; i < params.size(); ++i)
        params[i].copy_(best[i]);
    }
    result.epochs.push_back(epoch);
    for (auto [k, a] : topk(head(prep(split.test)), y.index_select(0, rowsOf(split.test)), o.top))
      acc[k].push_back(a);
  }
  for (auto &[k, v] : acc) {
    double m = 0, q = 0;
    for (double a : v)
      m += a / double(v.size());
    for (double a : v)
      q += (a - m) * (a - m);
    result.mean[k] = m;
    result.std[k] = v.size() > 1 ? std::sqrt(q / double(v.size() - 1)) : 0.0;
  }
  return result;
}

} // namespace exprt
