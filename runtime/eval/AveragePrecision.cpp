#include "eval/AveragePrecision.h"

#include "data/Random.h"
#include "eval/Similarity.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_set>

namespace exprt {

// ---------------------------------------------------------------------------
// Per-row AP
// ---------------------------------------------------------------------------

std::vector<int64_t> groupIds(const MetaColumns &meta, const std::vector<int> &cols, int64_t rows) {
  std::vector<int64_t> id(rows, 0);
  if (cols.empty())
    return id;
  std::map<std::vector<int64_t>, int64_t> index;
  std::vector<int64_t> key(cols.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols.size(); ++c)
      key[c] = meta[cols[c]][r];
    id[r] = index.emplace(key, int64_t(index.size())).first->second;
  }
  return id;
}

namespace {

std::vector<std::vector<int64_t>> members(const std::vector<int64_t> &id) {
  int64_t groups = id.empty() ? 0 : *std::max_element(id.begin(), id.end()) + 1;
  std::vector<std::vector<int64_t>> out(groups);
  for (int64_t r = 0; r < int64_t(id.size()); ++r)
    out[id[r]].push_back(r);
  return out;
}

bool differsInAll(const MetaColumns &meta, const std::vector<int> &cols, int64_t a, int64_t b) {
  for (int c : cols)
    if (meta[c][a] == meta[c][b])
      return false;
  return true;
}

struct Partner {
  double sim;
  int64_t row;
};

// Partner order: similarity descending, then row ascending.
bool before(const Partner &a, const Partner &b) {
  return a.sim != b.sim ? a.sim > b.sim : a.row < b.row;
}

// AP of one query from its positives (sorted by `before`) and negatives.
// A negative precedes a suffix of the positives; counting where each one
// starts and prefix-summing gives every positive's rank in O(neg log pos).
double apOfQuery(const std::vector<Partner> &pos, const double *negSim, const int64_t *negRow,
                 int64_t nNeg, std::vector<int64_t> &count) {
  count.assign(pos.size() + 1, 0);
  for (int64_t j = 0; j < nNeg; ++j) {
    Partner n{negSim[j], negRow[j]};
    size_t t = std::partition_point(pos.begin(), pos.end(),
                                    [&](const Partner &p) { return before(p, n); }) -
               pos.begin();
    ++count[t];
  }
  double ap = 0;
  int64_t negAbove = 0;
  for (size_t i = 0; i < pos.size(); ++i) {
    negAbove += count[i];
    ap += double(i + 1) / double(i + 1 + negAbove);
  }
  return ap / double(pos.size());
}

// The AP of a query from its positives (similarity, row, and how many of
// the valid negatives rank above each): positives in partner order, the
// i-th (0-based) at rank i + 1 + its count.
double apOfCounts(std::vector<std::pair<Partner, int64_t>> &pos) {
  std::sort(pos.begin(), pos.end(), [](const auto &a, const auto &b) { return before(a.first, b.first); });
  double ap = 0;
  for (size_t i = 0; i < pos.size(); ++i)
    ap += double(i + 1) / double(i + 1 + pos[i].second);
  return ap / double(pos.size());
}

// One query block on `device` with tensor ops: for each positive pair, the
// valid negatives ranked above it (similarity greater, or equal with a
// lower row) by comparing it with its query's whole row of negatives, in
// chunks of pairs. Returns the counts per pair and the valid negatives per
// query row, on the host.
struct BlockCounts {
  std::vector<int64_t> above, valid;
};
BlockCounts countOnDevice(const torch::Tensor &negSim, const std::vector<int64_t> &qrows,
                          const std::vector<int64_t> &candidates, const torch::Tensor &posSim,
                          const std::vector<int64_t> &pairBlockRow, const std::vector<int64_t> &pairP,
                          const std::vector<torch::Tensor> &negDiffbyCodes) {
  torch::NoGradGuard noGrad;
  const torch::Device device = negSim.device();
  auto onDevice = [&](const std::vector<int64_t> &v) {
    return torch::tensor(v, torch::kInt64).to(device);
  };
  const torch::Tensor cand = onDevice(candidates), q = onDevice(qrows);
  torch::Tensor valid = cand.unsqueeze(0) != q.unsqueeze(1);
  for (const torch::Tensor &codes : negDiffbyCodes)
    valid &= codes.index_select(0, cand).unsqueeze(0) != codes.index_select(0, q).unsqueeze(1);
  // Invalid negatives become NaN, which compares false: never above.
  const torch::Tensor neg = negSim.masked_fill(valid.logical_not(), std::nan(""));
  BlockCounts out;
  torch::Tensor validCount = valid.sum(1).cpu();
  out.valid.assign(validCount.data_ptr<int64_t>(), validCount.data_ptr<int64_t>() + validCount.numel());
  const int64_t pairs = static_cast<int64_t>(pairP.size()), nc = negSim.size(1);
  if (pairs == 0)
    return out;
  const torch::Tensor blockRow = onDevice(pairBlockRow), partner = onDevice(pairP);
  const torch::Tensor pos = posSim.to(device);
  const int64_t budget = device.is_cuda() ? (int64_t(256) << 20) : (int64_t(16) << 20);
  const int64_t chunk = std::max<int64_t>(1, budget / std::max<int64_t>(1, nc));
  std::vector<torch::Tensor> counts;
  for (int64_t k0 = 0; k0 < pairs; k0 += chunk) {
    const int64_t k1 = std::min(pairs, k0 + chunk);
    const torch::Tensor rows = neg.index_select(0, blockRow.slice(0, k0, k1));
    const torch::Tensor v = pos.slice(0, k0, k1).unsqueeze(1), p = partner.slice(0, k0, k1).unsqueeze(1);
    const torch::Tensor above = rows.gt(v).logical_or_(rows.eq(v).logical_and_(cand.unsqueeze(0).lt(p)));
    counts.push_back(above.sum(1));
  }
  torch::Tensor all = torch::cat(counts).cpu();
  out.above.assign(all.data_ptr<int64_t>(), all.data_ptr<int64_t>() + all.numel());
  return out;
}

} // namespace

namespace {

// One block of queries against their negative group's candidates: the
// similarities to every candidate, and each query's positives
// (pairP[pairStart[i] .. pairStart[i + 1])) with their similarities.
struct ApBlock {
  std::vector<int64_t> qrows, pairQ, pairP, pairStart{0};
  torch::Tensor negSim, posSim;
};

// Per-query APs of a block into `scores`: indexed by row; NaN stays where a
// query has no positive or no valid negative.
struct RowScores {
  std::vector<double> ap;
  std::vector<int64_t> nPos, nTotal;
};

// The block's APs from counts made with tensor ops on the run's device.
void scoreOnDevice(const ApBlock &b, const std::vector<int64_t> &candidates,
                   const std::vector<torch::Tensor> &negDiffbyCodes, RowScores &out) {
  const int64_t m = int64_t(b.qrows.size());
  std::vector<int64_t> blockRow(b.pairQ.size());
  for (int64_t i = 0; i < m; ++i)
    std::fill(blockRow.begin() + b.pairStart[i], blockRow.begin() + b.pairStart[i + 1], i);
  const BlockCounts c = countOnDevice(b.negSim, b.qrows, candidates, b.posSim, blockRow, b.pairP, negDiffbyCodes);
  const torch::Tensor hostPos = b.pairQ.empty() ? b.posSim : b.posSim.cpu();
  std::vector<std::pair<Partner, int64_t>> pos;
  for (int64_t i = 0; i < m; ++i) {
    if (b.pairStart[i] == b.pairStart[i + 1] || c.valid[i] == 0)
      continue;
    pos.clear();
    for (int64_t k = b.pairStart[i]; k < b.pairStart[i + 1]; ++k)
      pos.push_back({{hostPos.data_ptr<double>()[k], b.pairP[k]}, c.above[k]});
    const int64_t q = b.qrows[i];
    out.ap[q] = apOfCounts(pos);
    out.nPos[q] = int64_t(pos.size());
    out.nTotal[q] = int64_t(pos.size()) + c.valid[i];
  }
}

// The block's APs on the host, queries in parallel.
void scoreOnHost(const ApBlock &b, const std::vector<int64_t> &candidates, const MetaColumns &meta,
                 const PairRules &rules, RowScores &out) {
  const int64_t nc = int64_t(candidates.size());
  const double *ns = b.negSim.data_ptr<double>();
  const double *ps = b.pairQ.empty() ? nullptr : b.posSim.data_ptr<double>();
  at::parallel_for(0, int64_t(b.qrows.size()), 16, [&](int64_t begin, int64_t end) {
    std::vector<Partner> pos;
    std::vector<double> sims;
    std::vector<int64_t> rows, count;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t q = b.qrows[i];
      pos.clear();
      for (int64_t k = b.pairStart[i]; k < b.pairStart[i + 1]; ++k)
        pos.push_back({ps[k], b.pairP[k]});
      if (pos.empty())
        continue;
      sims.clear();
      rows.clear();
      const double *row = ns + i * nc;
      for (int64_t j = 0; j < nc; ++j) {
        const int64_t c = candidates[j];
        if (c != q && differsInAll(meta, rules.negDiffby, q, c)) {
          sims.push_back(row[j]);
          rows.push_back(c);
        }
      }
      if (sims.empty())
        continue;
      std::sort(pos.begin(), pos.end(), before);
      out.ap[q] = apOfQuery(pos, sims.data(), rows.data(), int64_t(sims.size()), count);
      out.nPos[q] = int64_t(pos.size());
      out.nTotal[q] = int64_t(pos.size() + sims.size());
    }
  });
}

} // namespace

ApScores averagePrecision(const torch::Tensor &features, const MetaColumns &meta,
                          const PairRules &rules, const ApOptions &options) {
  const int64_t n = features.size(0);
  const bool controlMode = !rules.controls.empty();
  auto isControl = [&](int64_t r) { return controlMode && rules.controls[r]; };
  const bool onDevice = options.device.has_value();
  torch::Tensor x = prepareForSimilarity(onDevice ? features.to(*options.device) : features, options.similarity);
  std::vector<torch::Tensor> negDiffbyCodes;
  if (onDevice)
    for (int c : rules.negDiffby)
      negDiffbyCodes.push_back(torch::tensor(meta[c], torch::kInt64).to(*options.device));
  const std::vector<int64_t> posGroup = groupIds(meta, rules.posSameby, n);
  const std::vector<int64_t> negGroup = groupIds(meta, rules.negSameby, n);
  const auto posMembers = members(posGroup), negMembers = members(negGroup);
  auto rowsOf = [&](const std::vector<int64_t> &r) {
    return x.index_select(0, torch::tensor(r, torch::kInt64).to(x.device()));
  };

  RowScores scores{std::vector<double>(n, std::nan("")), std::vector<int64_t>(n, 0), std::vector<int64_t>(n, 0)};
  for (const std::vector<int64_t> &group : negMembers) {
    std::vector<int64_t> queries, candidates;
    for (int64_t r : group) {
      if (!isControl(r))
        queries.push_back(r);
      if (!controlMode || isControl(r))
        candidates.push_back(r);
    }
    if (queries.empty() || candidates.empty())
      continue;
    torch::Tensor cand = rowsOf(candidates);
    const int64_t nc = int64_t(candidates.size());
    int64_t block = options.block > 0                             ? options.block
                    : onDevice && options.device->is_cuda() ? similarityBlockRows(nc) * 16
                                                                  : similarityBlockRows(nc);
    for (int64_t b0 = 0; b0 < int64_t(queries.size()); b0 += block) {
      const int64_t b1 = std::min<int64_t>(b0 + block, queries.size());
      ApBlock b;
      b.qrows.assign(queries.begin() + b0, queries.begin() + b1);
      // Negatives: one GEMM of the block against the group's candidates.
      b.negSim = similarityBlock(rowsOf(b.qrows), cand, options.similarity).contiguous();
      // Positives: few per query; gathered and scored row against row.
      for (int64_t q : b.qrows) {
        for (int64_t p : posMembers[posGroup[q]])
          if (p != q && !isControl(p) && differsInAll(meta, rules.posDiffby, q, p)) {
            b.pairQ.push_back(q);
            b.pairP.push_back(p);
          }
        b.pairStart.push_back(int64_t(b.pairQ.size()));
      }
      if (!b.pairQ.empty())
        b.posSim = similarityRows(rowsOf(b.pairQ), rowsOf(b.pairP), options.similarity).contiguous();
      if (onDevice)
        scoreOnDevice(b, candidates, negDiffbyCodes, scores);
      else
        scoreOnHost(b, candidates, meta, rules, scores);
    }
  }
  ApScores out;
  for (int64_t r = 0; r < n; ++r)
    if (!std::isnan(scores.ap[r])) {
      out.row.push_back(r);
      out.ap.push_back(scores.ap[r]);
      out.nPos.push_back(scores.nPos[r]);
      out.nTotal.push_back(scores.nTotal[r]);
    }
  return out;
}

// ---------------------------------------------------------------------------
// Null distributions, p-values
// ---------------------------------------------------------------------------

double apOfRanks(const std::vector<int64_t> &ranks) {
  double ap = 0;
  for (size_t i = 0; i < ranks.size(); ++i)
    ap += double(i + 1) / double(ranks[i]);
  return ranks.empty() ? 0 : ap / double(ranks.size());
}

namespace {

// `size` APs of rank lists with `pos` ones placed uniformly among `total`.
// Each configuration has its own stream, so a group's null does not depend
// on which other configurations the table happens to have.
std::vector<double> randomAps(int64_t pos, int64_t total, int64_t size, uint64_t seed) {
  std::vector<double> out(size);
  uint64_t state = splitmix64(seed ^ splitmix64(uint64_t(pos) * 0x100000001B3ull ^ uint64_t(total)));
  auto next = [&](uint64_t bound) { // uniform in [0, bound), Lemire's method
    state = splitmix64(state);
    return uint64_t((__uint128_t(state) * bound) >> 64);
  };
  std::vector<int64_t> ranks;
  std::vector<int64_t> perm;
  std::unordered_set<int64_t> seen;
  for (int64_t s = 0; s < size; ++s) {
    ranks.clear();
    if (pos * 4 <= total) {
      // Floyd's algorithm: pos distinct draws without a full permutation.
      seen.clear();
      for (int64_t j = total - pos; j < total; ++j) {
        int64_t t = int64_t(next(uint64_t(j) + 1));
        int64_t pick = seen.count(t) ? j : t;
        seen.insert(pick);
        ranks.push_back(pick + 1);
      }
    } else {
      perm.resize(total);
      std::iota(perm.begin(), perm.end(), 1);
      for (int64_t j = 0; j < pos; ++j) {
        int64_t t = j + int64_t(next(uint64_t(total - j)));
        std::swap(perm[j], perm[t]);
        ranks.push_back(perm[j]);
      }
    }
    std::sort(ranks.begin(), ranks.end());
    out[s] = apOfRanks(ranks);
  }
  return out;
}

double logChoose(int64_t n, int64_t k) {
  return std::lgamma(double(n) + 1) - std::lgamma(double(k) + 1) - std::lgamma(double(n - k) + 1);
}

using Distribution = std::map<double, double>; // value -> probability

// Every rank list's AP, enumerated (the caller bounds C(total, pos)).
Distribution exactApDistribution(int64_t pos, int64_t total) {
  Distribution d;
  std::vector<int64_t> ranks(pos);
  std::iota(ranks.begin(), ranks.end(), 1);
  const double weight = std::exp(-logChoose(total, pos));
  while (true) {
    d[apOfRanks(ranks)] += weight;
    int64_t i = pos - 1;
    while (i >= 0 && ranks[i] == total - (pos - 1 - i))
      --i;
    if (i < 0)
      break;
    ++ranks[i];
    for (int64_t j = i + 1; j < pos; ++j)
      ranks[j] = ranks[j - 1] + 1;
  }
  return d;
}

// P(null mAP >= observed) under copairs' null, exactly: members with the
// same (n_pos, n_total) share one draw (as copairs' null rows do), distinct
// configurations are independent. Nothing when the joint support of the
// distinct configurations exceeds `limit`.
std::optional<double> exactPValue(const std::vector<std::pair<int64_t, int64_t>> &members,
                                  double observed, double limit) {
  const double eps = 1e-12;
  std::map<std::pair<int64_t, int64_t>, int64_t> weight;
  for (const auto &c : members)
    ++weight[c];
  double joint = 0;
  for (const auto &[c, w] : weight)
    joint += logChoose(c.second, c.first);
  if (observed >= 1 - eps) // only all-perfect rank lists reach 1
    return std::exp(-joint);
  if (joint > std::log(limit))
    return std::nullopt;
  Distribution sum{{0.0, 1.0}};
  for (const auto &[c, w] : weight) {
    Distribution member = exactApDistribution(c.first, c.second), next;
    for (const auto &[a, pa] : sum)
      for (const auto &[b, pb] : member)
        next[a + double(w) * b] += pa * pb;
    sum.swap(next);
  }
  const double target = observed * double(members.size()) - eps;
  double p = 0;
  for (auto it = sum.lower_bound(target); it != sum.end(); ++it)
    p += it->second;
  return std::min(1.0, p);
}

} // namespace

std::vector<double> benjaminiHochberg(const std::vector<double> &p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> out(m);
  double running = 1;
  for (size_t i = m; i-- > 0;) {
    running = std::min(running, p[order[i]] * double(m) / double(i + 1));
    out[order[i]] = std::min(1.0, running);
  }
  return out;
}

MapSummary meanAveragePrecision(const ApScores &scores, const std::vector<int64_t> &group,
                                const MapOptions &options) {
  MapSummary out;
  std::map<int64_t, size_t> slot;
  std::vector<std::vector<size_t>> queries; // per group: indices into scores
  for (size_t i = 0; i < scores.row.size(); ++i) {
    auto [it, fresh] = slot.emplace(group[scores.row[i]], out.groups.size());
    if (fresh) {
      out.groups.push_back({});
      out.groups.back().key = it->first;
      queries.emplace_back();
    }
    out.groups[it->second].rows.push_back(scores.row[i]);
    queries[it->second].push_back(i);
  }
  // One null per distinct (n_pos, n_total), drawn in parallel.
  std::map<std::pair<int64_t, int64_t>, size_t> configIndex;
  for (size_t i = 0; i < scores.row.size(); ++i)
    configIndex.emplace(std::make_pair(scores.nPos[i], scores.nTotal[i]), configIndex.size());
  std::vector<std::pair<int64_t, int64_t>> configs(configIndex.size());
  for (const auto &[c, k] : configIndex)
    configs[k] = c;
  const int64_t nullSize = std::max<int64_t>(1, options.nullSize);
  std::vector<std::vector<double>> nulls(configs.size());
  at::parallel_for(0, int64_t(configs.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      nulls[k] = randomAps(configs[k].first, configs[k].second, nullSize, options.seed);
  });
  at::parallel_for(0, int64_t(out.groups.size()), 1, [&](int64_t begin, int64_t end) {
    std::vector<double> mean(nullSize);
    std::vector<std::pair<int64_t, int64_t>> memberConfigs;
    for (int64_t g = begin; g < end; ++g) {
      MapGroup &G = out.groups[g];
      const std::vector<size_t> &qs = queries[g];
      double sum = 0;
      std::fill(mean.begin(), mean.end(), 0.0);
      memberConfigs.clear();
      for (size_t i : qs) {
        sum += scores.ap[i];
        auto c = std::make_pair(scores.nPos[i], scores.nTotal[i]);
        memberConfigs.push_back(c);
        const std::vector<double> &null = nulls[configIndex.at(c)];
        for (int64_t s = 0; s < nullSize; ++s)
          mean[s] += null[s];
      }
      G.map = sum / double(qs.size());
      int64_t above = 0;
      for (int64_t s = 0; s < nullSize; ++s)
        above += mean[s] / double(qs.size()) > G.map;
      G.pValue = double(above + 1) / double(nullSize + 1);
      if (options.exactLimit > 0)
        G.exactP = exactPValue(memberConfigs, G.map, options.exactLimit);
    }
  });
  std::vector<double> p;
  for (const MapGroup &g : out.groups)
    p.push_back(g.pValue);
  std::vector<double> corrected = benjaminiHochberg(p);
  int64_t retrieved = 0;
  double total = 0;
  for (size_t g = 0; g < out.groups.size(); ++g) {
    MapGroup &G = out.groups[g];
    G.correctedP = corrected[g];
    G.belowP = G.pValue < options.threshold;
    G.belowCorrectedP = G.correctedP < options.threshold;
    retrieved += G.belowCorrectedP;
    total += G.map;
  }
  if (!out.groups.empty()) {
    out.meanMap = total / double(out.groups.size());
    out.fractionRetrieved = double(retrieved) / double(out.groups.size());
  }
  return out;
}

} // namespace exprt
