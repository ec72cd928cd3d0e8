// Profile metrics with the community's semantics (see the brief's
// evaluation.md). Pure functions over embeddings and metadata.
#pragma once

#include <torch/types.h>

#include <map>
#include <vector>

namespace exprt {

struct MapResult {
  double meanMap = 0;                  // mean over groups of the group mAP
  std::map<int64_t, double> perGroup;  // sameby value -> mAP
  int64_t queries = 0;                 // profiles with >= 1 positive and >= 1 negative
};

// Replicate retrieval mAP (copairs semantics): for each non-control profile,
// positives share `sameby` and differ in `diffby`; negatives are the control
// profiles. Partners are ranked by cosine similarity, descending, ties broken
// by partner index ascending; AP = sum_k P@k rel_k / n_pos. A group's mAP is
// the mean AP of its queries; `meanMap` averages the groups.
MapResult replicateMap(const torch::Tensor &profiles, const std::vector<int64_t> &sameby,
                       const std::vector<int64_t> &diffby, const std::vector<bool> &isControl);

struct RecallResult {
  std::map<int64_t, double> recallAt; // k -> share with the true partner in the top k
  double meanRank = 0, medianRank = 0;
};

// Cross-modal retrieval (forward direction of crossModalRecall in
// eval/Retrieval.h): each query ranks all candidates by cosine similarity;
// the rank of its true candidate `truth[i]` is 1 + (#higher) + (#equal with a
// lower index).
RecallResult recallAtK(const torch::Tensor &queries, const torch::Tensor &candidates,
                       const std::vector<int64_t> &truth, const std::vector<int64_t> &ks);

// Mean of rows sharing a group id: returns [groups, D] and the ids in order.
torch::Tensor aggregateMean(const torch::Tensor &rows, const std::vector<int64_t> &group,
                            std::vector<int64_t> &groupIds);

} // namespace exprt
