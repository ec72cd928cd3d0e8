#include "eval/Clustering.h"

#include "eval/AveragePrecision.h"
#include "eval/Similarity.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>

namespace exprt {
namespace {

int64_t blockRows(int64_t columns) { return similarityBlockRows(columns); }

torch::Tensor asDouble(const torch::Tensor &x) { return x.to(torch::kFloat64).contiguous(); }

// Exact Euclidean distances (cdist's GEMM shortcut loses small distances).
torch::Tensor distances(const torch::Tensor &a, const torch::Tensor &b) {
  return torch::cdist(a, b, 2.0, /*compute_mode=*/2);
}

// Dense codes 0..m-1 of arbitrary integer codes, in order of first appearance.
std::vector<int64_t> dense(const std::vector<int64_t> &codes, int64_t &m) {
  std::vector<int64_t> out = groupIds({codes}, {0}, int64_t(codes.size()));
  m = out.empty() ? 0 : *std::max_element(out.begin(), out.end()) + 1;
  return out;
}

double choose2(double n) { return n * (n - 1) / 2; }

struct Contingency {
  std::map<std::pair<int64_t, int64_t>, double> joint;
  std::map<int64_t, double> a, b;
  double n = 0;
};

Contingency contingency(const std::vector<int64_t> &a, const std::vector<int64_t> &b) {
  Contingency c;
  for (size_t i = 0; i < a.size(); ++i) {
    c.joint[{a[i], b[i]}] += 1;
    c.a[a[i]] += 1;
    c.b[b[i]] += 1;
  }
  c.n = double(a.size());
  return c;
}

double entropy(const std::map<int64_t, double> &counts, double n) {
  double h = 0;
  for (const auto &[k, c] : counts)
    h -= c / n * std::log(c / n);
  return h;
}

// Silhouette widths of `rows` (a subset of x's rows) against `label` (dense
// codes 0..m-1 over those rows).
std::vector<double> silhouetteOf(const torch::Tensor &x, const std::vector<int64_t> &label, int64_t m) {
  const int64_t n = x.size(0);
  std::vector<double> size(m, 0);
  for (int64_t l : label)
    size[l] += 1;
  torch::Tensor onehot = torch::zeros({n, m}, torch::kFloat64);
  for (int64_t i = 0; i < n; ++i)
    onehot[i][label[i]] = 1.0;
  std::vector<double> s(n, 0.0);
  for (int64_t b0 = 0; b0 < n; b0 += blockRows(n)) {
    const int64_t b1 = std::min(n, b0 + blockRows(n));
    // Per row, the summed distance to each label's rows.
    torch::Tensor sums = torch::matmul(distances(x.slice(0, b0, b1), x), onehot).contiguous();
    const double *p = sums.data_ptr<double>();
    for (int64_t i = b0; i < b1; ++i) {
      const double *row = p + (i - b0) * m;
      const int64_t own = label[i];
      if (size[own] <= 1)
        continue; // scikit-learn: a singleton's silhouette is 0
      const double a = row[own] / (size[own] - 1);
      double b = std::numeric_limits<double>::infinity();
      for (int64_t l = 0; l < m; ++l)
        if (l != own && size[l] > 0)
          b = std::min(b, row[l] / size[l]);
      const double d = std::max(a, b);
      s[i] = d > 0 ? (b - a) / d : 0.0;
    }
  }
  return s;
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One seeded k-means run; returns its inertia.
double lloyd(const torch::Tensor &x, int64_t k, std::mt19937_64 &rng, int iterations,
             std::vector<int64_t> &assign) {
  const int64_t n = x.size(0);
  torch::Tensor sq = (x * x).sum(1);
  // k-means++: each next centre drawn in proportion to its squared distance
  // from the nearest centre so far.
  std::vector<int64_t> centres{int64_t(std::uniform_int_distribution<int64_t>(0, n - 1)(rng))};
  torch::Tensor nearest = (x - x[centres[0]]).pow(2).sum(1);
  while (int64_t(centres.size()) < k) {
    std::vector<double> w(nearest.data_ptr<double>(), nearest.data_ptr<double>() + n);
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    int64_t next = total > 0 ? int64_t(std::discrete_distribution<int64_t>(w.begin(), w.end())(rng))
                             : int64_t(std::uniform_int_distribution<int64_t>(0, n - 1)(rng));
    centres.push_back(next);
    nearest = torch::minimum(nearest, (x - x[next]).pow(2).sum(1));
  }
  torch::Tensor c = x.index_select(0, torch::tensor(centres, torch::kInt64)).clone();
  torch::Tensor a;
  double inertia = 0;
  for (int it = 0; it < iterations; ++it) {
    torch::Tensor d = sq.unsqueeze(1) - 2 * torch::matmul(x, c.t()) + (c * c).sum(1).unsqueeze(0);
    auto [best, idx] = d.min(1);
    inertia = best.clamp_min(0).sum().item<double>();
    if (a.defined() && torch::equal(idx, a))
      break;
    a = idx;
    torch::Tensor counts = torch::zeros({k}, torch::kFloat64).index_add_(0, a, torch::ones({n}, torch::kFloat64));
    torch::Tensor sums = torch::zeros_like(c).index_add_(0, a, x);
    for (int64_t j = 0; j < k; ++j) {
      if (counts[j].item<double>() > 0)
        c[j] = sums[j] / counts[j];
      else // an empty cluster restarts at the row farthest from its centre
        c[j] = x[best.argmax().item<int64_t>()];
    }
  }
  torch::Tensor ac = a.contiguous();
  assign.assign(ac.data_ptr<int64_t>(), ac.data_ptr<int64_t>() + n);
  return inertia;
}

} // namespace

double adjustedRandIndex(const std::vector<int64_t> &a, const std::vector<int64_t> &b) {
  Contingency c = contingency(a, b);
  double index = 0, sa = 0, sb = 0;
  for (const auto &[k, v] : c.joint)
    index += choose2(v);
  for (const auto &[k, v] : c.a)
    sa += choose2(v);
  for (const auto &[k, v] : c.b)
    sb += choose2(v);
  const double pairs = choose2(c.n);
  const double expected = pairs > 0 ? sa * sb / pairs : 0;
  const double maximum = 0.5 * (sa + sb);
  if (maximum == expected) // both partitions trivial (one cluster, or all singletons)
    return 1.0;
  return (index - expected) / (maximum - expected);
}

double normalizedMutualInfo(const std::vector<int64_t> &a, const std::vector<int64_t> &b) {
  Contingency c = contingency(a, b);
  if (c.a.size() == c.b.size() && (c.a.size() <= 1 || c.a.size() == size_t(c.n)))
    return 1.0; // scikit-learn: identical trivial partitions
  double mi = 0;
  for (const auto &[k, v] : c.joint)
    mi += v / c.n * std::log(v * c.n / (c.a[k.first] * c.b[k.second]));
  const double norm = 0.5 * (entropy(c.a, c.n) + entropy(c.b, c.n));
  return norm > 0 ? std::max(0.0, mi) / norm : 0.0;
}

std::vector<int64_t> kMeans(const torch::Tensor &rows, int64_t k, uint64_t seed, int restarts, int iterations) {
  torch::Tensor x = asDouble(rows);
  k = std::clamp<int64_t>(k, 1, std::max<int64_t>(1, x.size(0)));
  std::mt19937_64 rng(seed);
  std::vector<int64_t> best, assign;
  double bestInertia = std::numeric_limits<double>::infinity();
  for (int r = 0; r < std::max(1, restarts); ++r) {
    const double inertia = lloyd(x, k, rng, iterations, assign);
    if (inertia < bestInertia) {
      bestInertia = inertia;
      best = assign;
    }
  }
  return best;
}

std::vector<double> silhouetteSamples(const torch::Tensor &rows, const std::vector<int64_t> &label) {
  int64_t m = 0;
  std::vector<int64_t> codes = dense(label, m);
  if (m < 2)
    return std::vector<double>(label.size(), 0.0);
  return silhouetteOf(asDouble(rows), codes, m);
}

double silhouetteBatch(const torch::Tensor &rows, const std::vector<int64_t> &label,
                       const std::vector<int64_t> &batch) {
  torch::Tensor x = asDouble(rows);
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t i = 0; i < int64_t(label.size()); ++i)
    members[label[i]].push_back(i);
  double total = 0;
  int64_t counted = 0;
  for (const auto &[l, idx] : members) {
    std::vector<int64_t> b;
    for (int64_t i : idx)
      b.push_back(batch[i]);
    int64_t m = 0;
    std::vector<int64_t> codes = dense(b, m);
    if (m == 1 || m == int64_t(idx.size()))
      continue; // silhouette undefined: one batch, or every row its own
    std::vector<double> s = silhouetteOf(x.index_select(0, torch::tensor(idx, torch::kInt64)), codes, m);
    double mean = 0;
    for (double v : s)
      mean += 1.0 - std::abs(v);
    total += mean / double(s.size());
    ++counted;
  }
  return counted ? total / double(counted) : 0.0;
}

Neighbours nearestNeighbours(const torch::Tensor &rows, int64_t k) {
  torch::Tensor x = asDouble(rows);
  const int64_t n = x.size(0);
  Neighbours nn;
  nn.k = std::clamp<int64_t>(k, 0, std::max<int64_t>(0, n - 1));
  if (nn.k == 0)
    return nn;
  nn.index.resize(n * nn.k);
  nn.distance.resize(n * nn.k);
  for (int64_t b0 = 0; b0 < n; b0 += blockRows(n)) {
    const int64_t b1 = std::min(n, b0 + blockRows(n));
    torch::Tensor d = distances(x.slice(0, b0, b1), x);
    // A row is not its own neighbour.
    d.diagonal(b0).fill_(std::numeric_limits<double>::infinity());
    auto [vals, idx] = d.topk(nn.k, 1, /*largest=*/false, /*sorted=*/true);
    vals = vals.contiguous();
    idx = idx.contiguous();
    std::copy_n(vals.data_ptr<double>(), vals.numel(), nn.distance.begin() + b0 * nn.k);
    std::copy_n(idx.data_ptr<int64_t>(), idx.numel(), nn.index.begin() + b0 * nn.k);
  }
  return nn;
}

double graphConnectivity(const Neighbours &nn, const std::vector<int64_t> &label) {
  const int64_t n = int64_t(label.size());
  // Union-find over the edges that stay inside a label.
  std::vector<int64_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int64_t i) {
    while (parent[i] != i)
      i = parent[i] = parent[parent[i]];
    return i;
  };
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < nn.k; ++j) {
      const int64_t t = nn.index[i * nn.k + j];
      if (label[t] == label[i])
        parent[find(i)] = find(t);
    }
  std::map<int64_t, std::map<int64_t, int64_t>> sizes; // label -> component -> rows
  for (int64_t i = 0; i < n; ++i)
    ++sizes[label[i]][find(i)];
  double total = 0;
  for (const auto &[l, comps] : sizes) {
    int64_t all = 0, largest = 0;
    for (const auto &[c, s] : comps) {
      all += s;
      largest = std::max(largest, s);
    }
    total += double(largest) / double(all);
  }
  return sizes.empty() ? 0.0 : total / double(sizes.size());
}

std::vector<double> lisi(const Neighbours &nn, const std::vector<int64_t> &label, double perplexity) {
  const int64_t n = int64_t(label.size()), k = nn.k;
  std::vector<double> out(n, 0.0);
  const double logU = std::log(perplexity);
  at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
    std::vector<double> p(k);
    for (int64_t i = begin; i < end; ++i) {
      const double *d = nn.distance.data() + i * k;
      // Harmony's binary search for the kernel precision giving `perplexity`.
      double beta = 1, betaMin = -INFINITY, betaMax = INFINITY, h = 0;
      auto kernel = [&] {
        double sum = 0, dot = 0;
        for (int64_t j = 0; j < k; ++j) {
          p[j] = std::exp(-d[j] * beta);
          sum += p[j];
          dot += d[j] * p[j];
        }
        if (sum == 0) {
          h = 0;
          std::fill(p.begin(), p.end(), 0.0);
          return;
        }
        h = std::log(sum) + beta * dot / sum;
        for (double &v : p)
          v /= sum;
      };
      kernel();
      for (int t = 0; t < 50 && std::abs(h - logU) >= 1e-5; ++t) {
        if (h - logU > 0) {
          betaMin = beta;
          beta = std::isfinite(betaMax) ? (beta + betaMax) / 2 : beta * 2;
        } else {
          betaMax = beta;
          beta = std::isfinite(betaMin) ? (beta + betaMin) / 2 : beta / 2;
        }
        kernel();
      }
      std::map<int64_t, double> mass;
      for (int64_t j = 0; j < k; ++j)
        mass[label[nn.index[i * k + j]]] += p[j];
      double simpson = h == 0 ? -1.0 : 0.0; // as Harmony: a degenerate kernel
      for (const auto &[l, m] : mass)
        simpson += m * m;
      out[i] = 1.0 / simpson;
    }
  });
  return out;
}

ClusteringScores clusteringScores(const torch::Tensor &rows, const std::vector<int64_t> &label,
                                  const std::vector<int64_t> &batch, uint64_t seed, double perplexity) {
  torch::Tensor x = asDouble(rows);
  ClusteringScores s;
  s.rows = x.size(0);
  dense(label, s.labels);
  dense(batch, s.batches);
  if (s.rows < 2)
    return s;
  std::vector<int64_t> clusters = kMeans(x, s.labels, seed);
  s.ari = adjustedRandIndex(label, clusters);
  s.nmi = normalizedMutualInfo(label, clusters);
  std::vector<double> sil = silhouetteSamples(x, label);
  s.silhouetteLabel = (std::accumulate(sil.begin(), sil.end(), 0.0) / double(sil.size()) + 1) / 2;
  s.silhouetteBatch = silhouetteBatch(x, label, batch);
  s.graphConnectivity = graphConnectivity(nearestNeighbours(x, 15), label);
  // Harmony reads 3 x perplexity neighbours, the row itself among them;
  // small sets shrink the perplexity to fit.
  const double p = std::min(perplexity, double(s.rows) / 3.0);
  Neighbours nn = nearestNeighbours(x, std::max<int64_t>(1, int64_t(3 * p) - 1));
  s.ilisi = median(lisi(nn, batch, p));
  s.clisi = median(lisi(nn, label, p));
  return s;
}

} // namespace exprt
