#include "eval/MetricJobs.h"

#include "eval/AveragePrecision.h"
#include "eval/Clustering.h"
#include "eval/FewShot.h"
#include "eval/Metrics.h"
#include "eval/ProfileStages.h"
#include "eval/Retrieval.h"

#include <torch/torch.h>

#include <map>

namespace exprt {
namespace {

// The first two principal components of the rows: the report's 2-D map.
nlohmann::json pcaMap(const torch::Tensor &rows, const std::vector<int64_t> &perturbation,
                      const std::vector<int64_t> &batch) {
  torch::Tensor x = rows.to(torch::kFloat64);
  x = x - x.mean(0, true);
  torch::Tensor v = std::get<2>(torch::linalg_svd(x, /*full_matrices=*/false));
  torch::Tensor xy = torch::matmul(x, v.slice(0, 0, std::min<int64_t>(2, v.size(0))).t()).contiguous();
  std::vector<double> px, py;
  for (int64_t i = 0; i < xy.size(0); ++i) {
    px.push_back(xy[i][0].item<double>());
    py.push_back(xy.size(1) > 1 ? xy[i][1].item<double>() : 0.0);
  }
  return {{"x", px}, {"y", py}, {"perturbation", perturbation}, {"batch", batch}};
}

// The two label columns a metric reads.
Status labelPair(const MetricJob &j, const char *a, const char *b, std::vector<int64_t> &va,
                 std::vector<int64_t> &vb) {
  Status s = j.labels(a, va);
  return s ? j.labels(b, vb) : s;
}

// pycytominer's mad_robustize against the controls of each `normalize_by`
// value (plate): the step CellProfiler profiles need before cosine
// similarity means anything, applied alike to learned ones when asked.
Status normalizeToControls(const MetricJob &j, torch::Tensor &profiles) {
  std::vector<int64_t> plate;
  if (Status s = j.labels("normalize_by", plate); !s)
    return s;
  Profiles p;
  p.metadataNames = {"plate"};
  p.metadata.emplace_back();
  for (int64_t v : plate)
    p.metadata[0].push_back(std::to_string(v));
  p.features = profiles.to(torch::kFloat64).cpu();
  // A feature constant across a plate's controls would divide by ~0; the
  // floor keeps it finite (scaled by 1e6) instead of dominating the cosine.
  if (Status s = robustMad(p, "plate", j.controls, 1e-6); !s)
    return s.prefixed("evaluation `" + j.name + "`: ");
  profiles = p.features.nan_to_num(0.0, 0.0, 0.0).to(torch::kFloat32);
  return Status::ok();
}

// A metric with nothing to score says so, never a 0 that reads as "retrieves
// nothing": `nothing_to_score` holds why, and the Status is R0800, which
// `exp eval` reports as its error and a training run records (evaluateAll).
Status nothingToScore(const MetricJob &j, const std::string &why) {
  j.r = {{"nothing_to_score", why}};
  return Status::error(ErrorKind::EvaluationImpossible, "evaluation `" + j.name + "`: nothing to score: " + why);
}

} // namespace

Status replicateMapJob(const MetricJob &j, const torch::Tensor &rawProfiles) {
  std::vector<int64_t> same, diff;
  if (Status s = labelPair(j, "sameby", "diffby", same, diff); !s)
    return s;
  torch::Tensor profiles = rawProfiles;
  if (j.options.contains("normalize_by"))
    if (Status s = normalizeToControls(j, profiles); !s)
      return s;
  PairRules rules;
  rules.posSameby = {0};
  rules.posDiffby = {1};
  rules.controls = j.controls;
  ApOptions ao;
  ao.device = j.device;
  ApScores ap = averagePrecision(profiles, {same, diff}, rules, ao);
  MapOptions mo;
  mo.nullSize = j.options.value("null_size", int64_t(10000));
  mo.seed = j.seed;
  MapSummary m = meanAveragePrecision(ap, same, mo);
  if (m.groups.empty()) // a mAP of 0 would read as "retrieves nothing"
    return nothingToScore(j, "no row has a replicate (the same `sameby`, another `diffby`) among the rows scored");
  j.r["map"] = m.meanMap;
  j.r["fraction_retrieved"] = m.fractionRetrieved;
  j.r["queries"] = int64_t(ap.row.size());
  j.r["groups"] = m.groups.size();
  nlohmann::json per = nlohmann::json::object(), pv = nlohmann::json::object();
  for (const MapGroup &g : m.groups) {
    per[std::to_string(g.key)] = g.map;
    pv[std::to_string(g.key)] = g.correctedP;
  }
  j.r["per_group"] = per;
  j.r["corrected_p"] = pv;
  if (j.plots)
    (*j.plots)[j.name]["map2d"] = pcaMap(profiles, j.perturbation, diff);
  return Status::ok();
}

// recall@k (or top-k accuracy) in both directions, its curve for the report.
void rankJob(const MetricJob &j, const torch::Tensor &queries, const torch::Tensor &candidates,
                 const std::vector<int64_t> &truth, const std::vector<int64_t> &ks, const std::string &prefix) {
  std::vector<int64_t> curve;
  for (int64_t k = 1; k <= std::min<int64_t>(candidates.size(0), 50); ++k)
    curve.push_back(k);
  std::vector<int64_t> all = ks;
  all.insert(all.end(), curve.begin(), curve.end());
  CrossModalRecall cr = crossModalRecall(queries, candidates, truth, all);
  for (int64_t k : ks) {
    j.r[prefix + "@" + std::to_string(k)] = cr.forward.recallAt.at(k);
    j.r["reverse_" + prefix + "@" + std::to_string(k)] = cr.reverse.recallAt.at(k);
  }
  j.r["mean_rank"] = cr.forward.meanRank;
  j.r["median_rank"] = cr.forward.medianRank;
  j.r["reverse_mean_rank"] = cr.reverse.meanRank;
  j.r["candidates"] = candidates.size(0);
  j.r["queries"] = queries.size(0);
  if (j.plots) {
    std::vector<double> fwd, rev;
    for (int64_t k : curve) {
      fwd.push_back(cr.forward.recallAt.at(k));
      rev.push_back(cr.reverse.recallAt.at(k));
    }
    (*j.plots)[j.name]["recall_curve"] = {{"k", curve}, {"forward", fwd}, {"reverse", rev}};
  }
}

// Zero-shot: each treated well's image embedding ranks one molecule
// embedding per label (the mean over that label's wells; identical when the
// molecule is the same); controls are not queries.
Status zeroShotJob(const MetricJob &j, const torch::Tensor &images, const torch::Tensor &molecules) {
  std::vector<int64_t> label;
  if (Status s = j.labels("labels", label); !s)
    return s;
  std::vector<int64_t> treated, treatedLabel;
  for (size_t i = 0; i < label.size(); ++i)
    if (!j.controls[i]) {
      treated.push_back(int64_t(i));
      treatedLabel.push_back(label[i]);
    }
  if (treated.empty())
    return Status::error(ErrorKind::EvaluationImpossible, "evaluation `" + j.name + "`: no treated wells among the held-out rows");
  torch::Tensor idx = torch::tensor(treated, torch::kInt64);
  rankClassMeansJob(j, images.index_select(0, idx), molecules.index_select(0, idx), treatedLabel,
                    j.options.value("top", std::vector<int64_t>{1, 5, 10}), "top");
  return Status::ok();
}

void rankClassMeansJob(const MetricJob &j, const torch::Tensor &queries, const torch::Tensor &candidateRows,
                       const std::vector<int64_t> &label, const std::vector<int64_t> &ks, const std::string &prefix) {
  std::vector<int64_t> candidateOf;
  torch::Tensor candidates = aggregateMean(candidateRows, label, candidateOf);
  // Each query's truth: the position of its label among the candidates.
  std::map<int64_t, int64_t> position;
  for (size_t c = 0; c < candidateOf.size(); ++c)
    position[candidateOf[c]] = int64_t(c);
  std::vector<int64_t> truth;
  for (int64_t l : label)
    truth.push_back(position.at(l));
  rankJob(j, queries, candidates, truth, ks, prefix);
}

Status knnJob(const MetricJob &j, const torch::Tensor &profiles) {
  std::vector<int64_t> label, batch;
  if (Status s = labelPair(j, "labels", "exclude_same", label, batch); !s)
    return s;
  const int64_t k = j.options.value("k", int64_t(10));
  KnnResult res = knnRetrieval(profiles, label, batch, j.controls, k);
  if (res.queries == 0)
    return nothingToScore(j, "no treated row has a row of its label in another `exclude_same` group");
  j.r["top" + std::to_string(k)] = res.accuracy;
  j.r["queries"] = res.queries;
  return Status::ok();
}

Status clusteringJob(const MetricJob &j, const torch::Tensor &profiles) {
  std::vector<int64_t> label, batch;
  if (Status s = labelPair(j, "labels", "batch", label, batch); !s)
    return s;
  ClusteringScores c = clusteringScores(profiles, label, batch, j.seed);
  if (c.rows < 2 || c.labels < 2)
    return nothingToScore(j, std::to_string(c.rows) + " rows of " + std::to_string(c.labels) +
                                 " labels; clustering needs two labels or more");
  j.r["ari"] = c.ari;
  j.r["nmi"] = c.nmi;
  j.r["silhouette_label"] = c.silhouetteLabel;
  j.r["silhouette_batch"] = c.silhouetteBatch;
  j.r["graph_connectivity"] = c.graphConnectivity;
  j.r["ilisi"] = c.ilisi;
  j.r["clisi"] = c.clisi;
  j.r["queries"] = c.rows;
  j.r["labels"] = c.labels;
  j.r["batches"] = c.batches;
  return Status::ok();
}

Status fewShotJob(const MetricJob &j, const torch::Tensor &profiles) {
  std::vector<int64_t> label;
  if (Status s = j.labels("labels", label); !s)
    return s;
  FewShotOptions o;
  o.shots = j.options.value("shots", o.shots);
  o.seeds = j.options.value("seeds", o.seeds);
  o.epochs = j.options.value("epochs", o.epochs);
  o.batch = std::max<int64_t>(1, j.options.value("batch", o.batch));
  o.patience = j.options.value("patience", o.patience);
  o.lr = j.options.value("lr", o.lr);
  o.top = j.options.value("top", o.top);
  FewShotResult f = fewShotProbe(profiles, label, o, j.seed);
  if (f.testRows == 0)
    return Status::error(ErrorKind::EvaluationImpossible, "evaluation `" + j.name + "`: no class has more than " + std::to_string(o.shots) +
                         " rows, so nothing is left to test on");
  for (auto [k, m] : f.mean) {
    j.r["top" + std::to_string(k)] = m;
    j.r["top" + std::to_string(k) + "_std"] = f.std.at(k);
  }
  j.r["classes"] = f.classes;
  j.r["train_rows"] = f.trainRows;
  j.r["queries"] = f.testRows;
  j.r["epochs_trained"] = f.epochs;
  return Status::ok();
}

} // namespace exprt
