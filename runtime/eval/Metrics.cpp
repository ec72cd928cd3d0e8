#include "eval/Metrics.h"

#include "eval/AveragePrecision.h"
#include "eval/Retrieval.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

namespace exprt {

MapResult replicateMap(const torch::Tensor &profiles, const std::vector<int64_t> &sameby,
                       const std::vector<int64_t> &diffby, const std::vector<bool> &isControl) {
  PairRules rules;
  rules.posSameby = {0};
  rules.posDiffby = {1};
  rules.controls = isControl;
  ApScores scores = averagePrecision(profiles, {sameby, diffby}, rules);
  MapResult result;
  result.queries = int64_t(scores.row.size());
  std::map<int64_t, std::pair<double, int64_t>> groups; // sum of AP, count
  for (size_t i = 0; i < scores.row.size(); ++i) {
    auto &g = groups[sameby[scores.row[i]]];
    g.first += scores.ap[i];
    g.second += 1;
  }
  double total = 0;
  for (const auto &[id, g] : groups) {
    result.perGroup[id] = g.first / double(g.second);
    total += result.perGroup[id];
  }
  result.meanMap = groups.empty() ? 0 : total / double(groups.size());
  return result;
}

RecallResult recallAtK(const torch::Tensor &queries, const torch::Tensor &candidates,
                       const std::vector<int64_t> &truth, const std::vector<int64_t> &ks) {
  RankSummary f = crossModalRecall(queries, candidates, truth, ks).forward;
  RecallResult r;
  r.recallAt = f.recallAt;
  r.meanRank = f.meanRank;
  r.medianRank = f.medianRank;
  return r;
}

torch::Tensor aggregateMean(const torch::Tensor &rows, const std::vector<int64_t> &group,
                            std::vector<int64_t> &groupIds) {
  std::map<int64_t, int64_t> index;
  for (int64_t g : group)
    index.emplace(g, 0);
  groupIds.clear();
  for (auto &[g, i] : index) {
    i = static_cast<int64_t>(groupIds.size());
    groupIds.push_back(g);
  }
  std::vector<int64_t> slot;
  for (int64_t g : group)
    slot.push_back(index[g]);
  torch::Tensor idx = torch::tensor(slot, torch::kInt64);
  torch::Tensor sums = torch::zeros({int64_t(groupIds.size()), rows.size(1)}, rows.options());
  sums.index_add_(0, idx, rows);
  torch::Tensor counts = torch::zeros({int64_t(groupIds.size())}, rows.options());
  counts.index_add_(0, idx, torch::ones({rows.size(0)}, rows.options()));
  return sums / counts.unsqueeze(1);
}

} // namespace exprt
