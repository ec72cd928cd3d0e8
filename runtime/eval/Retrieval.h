// Retrieval metrics (the brief's evaluation.md): cross-modal recall@k in
// both directions, kNN retrieval under batch constraints (MICON's NSB/NSS),
// and EFAAR's known-relationship recall. Cosine similarity throughout,
// scored block by block so no all-pairs matrix is held beyond what the
// metric's definition needs.
#pragma once

#include <torch/types.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace exprt {

struct RankSummary {
  std::map<int64_t, double> recallAt; // k -> share with a true partner in the top k
  double meanRank = 0, medianRank = 0;
  int64_t queries = 0;
};

// Query i's true candidate is truth[i]; its rank is 1 + (#candidates more
// similar) + (#equally similar with a lower index). `reverse` ranks the
// queries for each candidate that is someone's truth, by its best-ranked
// true query (text -> image for CLIP-style pairs).
struct CrossModalRecall {
  RankSummary forward, reverse;
};
CrossModalRecall crossModalRecall(const torch::Tensor &queries, const torch::Tensor &candidates,
                                  const std::vector<int64_t> &truth, const std::vector<int64_t> &ks);

// kNN retrieval: for each query row (not `exclude`d) with at least one other
// row of its label in another `batch`, its k nearest rows among those of
// another batch (and not excluded); a hit when one shares its label.
// Returns the share of hits (top-k accuracy) and the number of queries.
struct KnnResult {
  double accuracy = 0;
  int64_t queries = 0;
};
KnnResult knnRetrieval(const torch::Tensor &x, const std::vector<int64_t> &label,
                       const std::vector<int64_t> &batch, const std::vector<bool> &exclude, int64_t k);

// EFAAR known-relationship recall: x holds one profile per entity; the null
// is the cosine of every unordered pair of distinct entities; recall at
// (lo, hi) is the share of annotated pairs (both present, distinct,
// deduplicated) whose cosine is <= the lo-th or >= the hi-th percentile of
// the null (NumPy's linear percentile). Nothing when fewer than
// `minEntities` annotated entities are present.
struct EfaarRecall {
  std::map<std::string, double> recall; // "5_95" -> share
  int64_t pairs = 0, entities = 0;
};
std::optional<EfaarRecall> efaarRecall(const torch::Tensor &x,
                                       const std::vector<std::pair<int64_t, int64_t>> &annotated,
                                       const std::vector<std::pair<double, double>> &thresholds,
                                       int64_t minEntities = 20);

} // namespace exprt
