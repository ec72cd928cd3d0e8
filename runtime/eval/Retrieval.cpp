#include "eval/Retrieval.h"

#include "eval/Similarity.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace exprt {
namespace {

int64_t blockRows(int64_t columns) { return similarityBlockRows(columns); }

RankSummary summarise(std::vector<double> ranks, const std::vector<int64_t> &ks) {
  RankSummary r;
  const int64_t n = int64_t(ranks.size());
  r.queries = n;
  for (int64_t k : ks)
    r.recallAt[k] = n == 0 ? 0
                           : double(std::count_if(ranks.begin(), ranks.end(), [&](double x) { return x <= k; })) / n;
  if (n > 0) {
    r.meanRank = std::accumulate(ranks.begin(), ranks.end(), 0.0) / n;
    std::sort(ranks.begin(), ranks.end());
    r.medianRank = n % 2 ? ranks[n / 2] : 0.5 * (ranks[n / 2 - 1] + ranks[n / 2]);
  }
  return r;
}

// The rank of column `t` in `row` (1-based; ties to the lower index).
int64_t rankOf(const double *row, int64_t m, int64_t t) {
  int64_t rank = 1;
  for (int64_t j = 0; j < m; ++j)
    rank += row[j] > row[t] || (row[j] == row[t] && j < t);
  return rank;
}

// NumPy's default (linear) percentile of an unsorted sample, q in [0, 100].
double percentile(std::vector<float> &v, double q) {
  const double pos = q / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + lo, v.end());
  const double a = v[lo];
  const double b = hi == lo ? a : *std::min_element(v.begin() + lo + 1, v.end());
  return a + (b - a) * (pos - double(lo));
}

} // namespace

CrossModalRecall crossModalRecall(const torch::Tensor &queries, const torch::Tensor &candidates,
                                  const std::vector<int64_t> &truth, const std::vector<int64_t> &ks) {
  torch::Tensor q = prepareForSimilarity(queries, Similarity::Cosine);
  torch::Tensor c = prepareForSimilarity(candidates, Similarity::Cosine);
  const int64_t n = q.size(0), m = c.size(0);
  std::vector<double> forward(n);
  std::map<int64_t, std::vector<int64_t>> trueQueries;
  for (int64_t i = 0; i < n; ++i)
    trueQueries[truth[i]].push_back(i);
  for (int64_t b0 = 0; b0 < n; b0 += blockRows(m)) {
    const int64_t b1 = std::min(n, b0 + blockRows(m));
    torch::Tensor s = similarityBlock(q.slice(0, b0, b1), c, Similarity::Cosine).contiguous();
    const double *p = s.data_ptr<double>();
    at::parallel_for(b0, b1, 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        forward[i] = double(rankOf(p + (i - b0) * m, m, truth[i]));
    });
  }
  // Reverse: each true candidate ranks every query; its best true query counts.
  std::vector<int64_t> targets;
  for (const auto &[t, qs] : trueQueries)
    targets.push_back(t);
  std::vector<double> reverse(targets.size());
  for (int64_t b0 = 0; b0 < int64_t(targets.size()); b0 += blockRows(n)) {
    const int64_t b1 = std::min<int64_t>(targets.size(), b0 + blockRows(n));
    torch::Tensor idx = torch::tensor(std::vector<int64_t>(targets.begin() + b0, targets.begin() + b1), torch::kInt64);
    torch::Tensor s = similarityBlock(c.index_select(0, idx), q, Similarity::Cosine).contiguous();
    const double *p = s.data_ptr<double>();
    at::parallel_for(b0, b1, 16, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        int64_t best = n + 1;
        for (int64_t i : trueQueries[targets[t]])
          best = std::min(best, rankOf(p + (t - b0) * n, n, i));
        reverse[t] = double(best);
      }
    });
  }
  return {summarise(forward, ks), summarise(reverse, ks)};
}

KnnResult knnRetrieval(const torch::Tensor &features, const std::vector<int64_t> &label,
                       const std::vector<int64_t> &batch, const std::vector<bool> &exclude, int64_t k) {
  torch::Tensor x = prepareForSimilarity(features, Similarity::Cosine);
  const int64_t n = x.size(0);
  std::vector<int64_t> pool;
  for (int64_t i = 0; i < n; ++i)
    if (exclude.empty() || !exclude[i])
      pool.push_back(i);
  const int64_t m = int64_t(pool.size());
  torch::Tensor candidates = x.index_select(0, torch::tensor(pool, torch::kInt64));
  std::vector<int> hit(m, -1); // -1: not a query
  for (int64_t b0 = 0; b0 < m; b0 += blockRows(m)) {
    const int64_t b1 = std::min(m, b0 + blockRows(m));
    torch::Tensor s = similarityBlock(candidates.slice(0, b0, b1), candidates, Similarity::Cosine).contiguous();
    const double *p = s.data_ptr<double>();
    at::parallel_for(b0, b1, 16, [&](int64_t begin, int64_t end) {
      std::vector<std::pair<double, int64_t>> eligible; // (-sim, pool index)
      for (int64_t a = begin; a < end; ++a) {
        const int64_t qa = pool[a];
        eligible.clear();
        bool reachable = false;
        for (int64_t j = 0; j < m; ++j) {
          const int64_t r = pool[j];
          if (batch[r] == batch[qa])
            continue; // also drops the query itself
          eligible.push_back({-p[(a - b0) * m + j], j});
          reachable = reachable || label[r] == label[qa];
        }
        if (!reachable)
          continue;
        const size_t top = std::min<size_t>(size_t(k), eligible.size());
        std::partial_sort(eligible.begin(), eligible.begin() + top, eligible.end());
        hit[a] = 0;
        for (size_t t = 0; t < top; ++t)
          if (label[pool[eligible[t].second]] == label[qa])
            hit[a] = 1;
      }
    });
  }
  KnnResult r;
  int64_t hits = 0;
  for (int h : hit)
    if (h >= 0) {
      ++r.queries;
      hits += h;
    }
  r.accuracy = r.queries ? double(hits) / double(r.queries) : 0;
  return r;
}

std::optional<EfaarRecall> efaarRecall(const torch::Tensor &features,
                                       const std::vector<std::pair<int64_t, int64_t>> &annotated,
                                       const std::vector<std::pair<double, double>> &thresholds,
                                       int64_t minEntities) {
  torch::Tensor x = prepareForSimilarity(features, Similarity::Cosine);
  const int64_t g = x.size(0);
  std::set<std::pair<int64_t, int64_t>> pairs;
  std::set<int64_t> entities;
  for (auto [a, b] : annotated) {
    if (a == b || a < 0 || b < 0 || a >= g || b >= g)
      continue;
    pairs.insert({std::min(a, b), std::max(a, b)});
    entities.insert(a);
    entities.insert(b);
  }
  if (int64_t(entities.size()) < minEntities)
    return std::nullopt;
  // The null: every upper-triangle cosine, blockwise, kept as float.
  std::vector<float> null;
  null.reserve(size_t(g) * size_t(g - 1) / 2);
  std::vector<float> query; // as float too: annotated pairs are members of the null
  for (int64_t b0 = 0; b0 < g; b0 += blockRows(g)) {
    const int64_t b1 = std::min(g, b0 + blockRows(g));
    torch::Tensor s = similarityBlock(x.slice(0, b0, b1), x, Similarity::Cosine).contiguous();
    const double *p = s.data_ptr<double>();
    for (int64_t i = b0; i < b1; ++i)
      for (int64_t j = i + 1; j < g; ++j)
        null.push_back(float(p[(i - b0) * g + j]));
    for (auto it = pairs.lower_bound({b0, 0}); it != pairs.end() && it->first < b1; ++it)
      query.push_back(float(p[(it->first - b0) * g + it->second]));
  }
  EfaarRecall r;
  r.pairs = int64_t(query.size());
  r.entities = int64_t(entities.size());
  for (auto [lo, hi] : thresholds) {
    const double left = percentile(null, lo), right = percentile(null, hi);
    int64_t in = 0;
    for (float c : query)
      in += c <= left || c >= right;
    auto name = [](double v) { return std::to_string(int64_t(std::lround(v))); };
    r.recall[name(lo) + "_" + name(hi)] = query.empty() ? 0 : double(in) / double(query.size());
  }
  return r;
}

} // namespace exprt
