// The metrics an evaluation names, over one table of profiles (rows: wells,
// or whatever the table holds): shared by runs (embeddings of held-out wells)
// and `exp eval` (a profile table after its stages). Each writes its numbers
// into `r`, and what the run report draws into `plots[name]`.
#pragma once

#include "exprt/Status.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace exprt {

struct MetricJob {
  std::string name;              // the evaluation's
  const nlohmann::json &options; // its options: label columns by role, k, null_size, ...
  // Per row, the codes of the labels column the option `key` names.
  std::function<Status(const char *key, std::vector<int64_t> &out)> labels;
  std::vector<int64_t> perturbation; // per row (colours the report's map)
  std::vector<bool> controls;        // per row: a negative control
  uint64_t seed = 0;
  nlohmann::json &r;
  nlohmann::json *plots = nullptr;
  // Where the heavy metrics (replicate mAP's similarities and ranks) run:
  // unset, the host; a CUDA device for large profile sets (ApOptions::device).
  std::optional<torch::Device> device = std::nullopt;
};

// Replicate retrieval: copairs mAP of same-`sameby` rows on other `diffby`
// values against the controls, with p-values and fraction retrieved; with
// option `normalize_by`, profiles are first robust-MAD normalised to the
// controls of each value of that column (plate).
Status replicateMapJob(const MetricJob &j, const torch::Tensor &profiles);

// `prefix`@k for each k and the mean/median rank, both directions, of
// queries whose true candidate is truth[i]; the curve for the report.
void rankJob(const MetricJob &j, const torch::Tensor &queries, const torch::Tensor &candidates,
             const std::vector<int64_t> &truth, const std::vector<int64_t> &ks, const std::string &prefix);

// rankJob against one candidate per label: the mean of `candidateRows`
// sharing it; each query's truth is its own label's candidate.
void rankClassMeansJob(const MetricJob &j, const torch::Tensor &queries, const torch::Tensor &candidateRows,
                       const std::vector<int64_t> &label, const std::vector<int64_t> &ks, const std::string &prefix);

// Zero-shot: each treated row's image embedding ranks one molecule embedding
// per `labels` value (the mean over its rows); controls are not queries.
Status zeroShotJob(const MetricJob &j, const torch::Tensor &images, const torch::Tensor &molecules);

// kNN retrieval of the same `labels` among rows of another `exclude_same`.
Status knnJob(const MetricJob &j, const torch::Tensor &profiles);

// ARI, NMI, silhouettes, graph connectivity and LISI by `labels` and `batch`.
Status clusteringJob(const MetricJob &j, const torch::Tensor &profiles);

// Few-shot linear probe by `labels` (eval/FewShot.h): top-k test accuracy,
// mean and standard deviation over seeds.
Status fewShotJob(const MetricJob &j, const torch::Tensor &profiles);

} // namespace exprt
