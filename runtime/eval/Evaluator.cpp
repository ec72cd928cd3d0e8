#include "eval/Evaluator.h"

#include "eval/AveragePrecision.h"
#include "eval/Clustering.h"
#include "eval/Metrics.h"
#include "eval/Retrieval.h"

#include <torch/torch.h>

#include <set>

namespace exprt {
namespace {


class Embeddings {
public:
  Embeddings(const Plan &plan, const Screen &screen, const FeatureStore &features,
             ParameterStore &params, EmbeddingSource source, uint64_t seed)
      : plan_(plan), screen_(screen), features_(features), params_(params), source_(source),
        seed_(seed) {}

  // The graph's output for `inputs` (a column's values), computed once.
  // `batch` rows at a time (the `evaluate` block's `batch`, the plan's `embed_batch`).
  Status get(const std::string &graphName, const torch::Tensor &sites, const std::string &key,
             int64_t batch, torch::Tensor &out) {
    auto it = cache_.find(graphName + "/" + key);
    if (it != cache_.end()) {
      out = it->second;
      return Status::ok();
    }
    const Graph &g = plan_.graphs.at(graphName);
    if (g.outputs.size() != 1 || (key == "classes" && g.inputs.size() != 1))
      return Status::error("graph `" + graphName + "` must return one embedding" +
                           (key == "classes" ? " of the one column it reads" : ""));
    torch::NoGradGuard noGrad;
    GraphExecutor exec(g, params_);
    std::vector<torch::Tensor> parts;
    for (int64_t begin = 0; begin < sites.size(0); begin += batch) {
      torch::Tensor chunk = sites.slice(0, begin, std::min(begin + batch, sites.size(0)));
      // Candidates over the label set take the class ids themselves.
      parts.push_back(exec.run(key == "classes"
                                   ? std::map<std::string, torch::Tensor>{{g.inputs[0].binding, chunk}}
                                   : features_.inputs(g, screen_, chunk))[0]);
    }
    out = torch::cat(parts, 0);
    if (source_ == EmbeddingSource::Random) {
      torch::Generator gen = torch::make_generator<torch::CPUGeneratorImpl>(seed_ + cache_.size());
      out = torch::randn(out.sizes(), gen, torch::kFloat32);
    }
    cache_[graphName + "/" + key] = out;
    return Status::ok();
  }

private:
  const Plan &plan_;
  const Screen &screen_;
  const FeatureStore &features_;
  ParameterStore &params_;
  EmbeddingSource source_;
  uint64_t seed_;
  std::map<std::string, torch::Tensor> cache_;
};

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

std::vector<int64_t> toVector(const torch::Tensor &t) {
  torch::Tensor c = t.contiguous().to(torch::kInt64);
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// The held-out sites aggregated to wells, shared by every metric: each
// well's sites and one representative site for its metadata.
struct Wells {
  std::vector<int64_t> siteWell; // per held-out site, its well
  torch::Tensor repSites;        // per well, its first site
  std::vector<int64_t> pert;     // per well, its perturbation (0: control)
};

Wells wellsOf(const Screen &screen) {
  Wells w;
  torch::Tensor sites = torch::tensor(screen.evalSites, torch::kInt64);
  w.siteWell = toVector(screen.well.index_select(0, sites));
  // aggregateMean's order: ascending well ids.
  std::set<int64_t> wells(w.siteWell.begin(), w.siteWell.end());
  std::map<int64_t, int64_t> firstSite;
  for (size_t i = 0; i < w.siteWell.size(); ++i)
    firstSite.emplace(w.siteWell[i], screen.evalSites[i]);
  std::vector<int64_t> rep;
  for (int64_t well : wells)
    rep.push_back(firstSite[well]);
  w.repSites = torch::tensor(rep, torch::kInt64);
  w.pert = toVector(screen.perturbation.index_select(0, w.repSites));
  return w;
}

// One evaluation's inputs and outputs.
struct Job {
  const EvalSpec &e;
  const Screen &screen;
  const Wells &wells;
  uint64_t seed;
  nlohmann::json &r;
  nlohmann::json *plots;
};

// Per well, its value of the labels column the option `key` names.
Status labelsOf(const Job &j, const char *key, std::vector<int64_t> &out) {
  std::string name = j.e.options.value(key, "");
  bool isLabels = j.screen.hasColumn(name) && !j.screen.features.count(name) && name != "image" &&
                  name != "treated1" && name != "control1" && name != "treated2" && name != "control2";
  if (!isLabels)
    return Status::error("evaluation `" + j.e.name + "`: `" + key + "` names `" + name +
                         "`, which is not a labels column of the data");
  out = toVector(j.screen.column(name, j.wells.repSites));
  return Status::ok();
}

Status replicateMap(const Job &j, const torch::Tensor &profiles) {
  std::vector<int64_t> same, diff;
  if (Status s = labelsOf(j, "sameby", same); !s)
    return s;
  if (Status s = labelsOf(j, "diffby", diff); !s)
    return s;
  PairRules rules;
  rules.posSameby = {0};
  rules.posDiffby = {1};
  for (int64_t p : j.wells.pert)
    rules.controls.push_back(p == 0);
  ApScores ap = averagePrecision(profiles, {same, diff}, rules);
  MapOptions mo;
  mo.nullSize = j.e.options.value("null_size", int64_t(10000));
  mo.seed = j.seed;
  MapSummary m = meanAveragePrecision(ap, same, mo);
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
    (*j.plots)[j.e.name]["map2d"] = pcaMap(profiles, j.wells.pert, diff);
  return Status::ok();
}

// recall@k (or top-k accuracy) in both directions, its curve for the report.
void reportRanks(const Job &j, const torch::Tensor &queries, const torch::Tensor &candidates,
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
    (*j.plots)[j.e.name]["recall_curve"] = {{"k", curve}, {"forward", fwd}, {"reverse", rev}};
  }
}

// Zero-shot: each treated well's image embedding ranks one molecule
// embedding per label (the mean over that label's wells; identical when the
// molecule is the same); controls are not queries.
Status zeroShot(const Job &j, const torch::Tensor &images, const torch::Tensor &molecules) {
  std::vector<int64_t> label;
  if (Status s = labelsOf(j, "labels", label); !s)
    return s;
  std::vector<int64_t> treated, treatedLabel;
  for (size_t i = 0; i < label.size(); ++i)
    if (j.wells.pert[i] != 0) {
      treated.push_back(int64_t(i));
      treatedLabel.push_back(label[i]);
    }
  if (treated.empty())
    return Status::error("evaluation `" + j.e.name + "`: no treated wells among the held-out rows");
  torch::Tensor idx = torch::tensor(treated, torch::kInt64);
  std::vector<int64_t> candidateOf;
  torch::Tensor candidates = aggregateMean(molecules.index_select(0, idx), treatedLabel, candidateOf);
  // Each query's truth: the position of its label among the candidates.
  std::map<int64_t, int64_t> position;
  for (size_t c = 0; c < candidateOf.size(); ++c)
    position[candidateOf[c]] = int64_t(c);
  std::vector<int64_t> truth;
  for (int64_t l : treatedLabel)
    truth.push_back(position.at(l));
  reportRanks(j, images.index_select(0, idx), candidates, truth,
              j.e.options.value("top", std::vector<int64_t>{1, 5, 10}), "top");
  return Status::ok();
}

Status knn(const Job &j, const torch::Tensor &profiles) {
  std::vector<int64_t> label, batch;
  if (Status s = labelsOf(j, "labels", label); !s)
    return s;
  if (Status s = labelsOf(j, "exclude_same", batch); !s)
    return s;
  std::vector<bool> controls;
  for (int64_t p : j.wells.pert)
    controls.push_back(p == 0);
  const int64_t k = j.e.options.value("k", int64_t(10));
  KnnResult res = knnRetrieval(profiles, label, batch, controls, k);
  j.r["top" + std::to_string(k)] = res.accuracy;
  j.r["queries"] = res.queries;
  return Status::ok();
}

Status clustering(const Job &j, const torch::Tensor &profiles) {
  std::vector<int64_t> label, batch;
  if (Status s = labelsOf(j, "labels", label); !s)
    return s;
  if (Status s = labelsOf(j, "batch", batch); !s)
    return s;
  ClusteringScores c = clusteringScores(profiles, label, batch, j.seed);
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

} // namespace

Status evaluateAll(const Plan &plan, const Screen &screen, const FeatureStore &features,
                   ParameterStore &params, EmbeddingSource source, uint64_t seed,
                   nlohmann::json &out, nlohmann::json *plots) {
  Embeddings emb(plan, screen, features, params, source, seed);
  torch::Tensor sites = torch::tensor(screen.evalSites, torch::kInt64);
  const Wells wells = wellsOf(screen);
  out = nlohmann::json::object();
  if (plots)
    *plots = nlohmann::json::object();
  for (const EvalSpec &e : plan.evaluations) {
    nlohmann::json r;
    r["metric"] = e.metric;
    const int64_t batch = std::max<int64_t>(1, e.options.value("embed_batch", int64_t(256)));
    Job job{e, screen, wells, seed, r, plots};
    // Each input graph's embedding of the held-out sites, aggregated to wells.
    std::vector<torch::Tensor> profiles;
    const size_t siteInputs = e.metric == "recall_at" ? 1 : e.graphs.size();
    for (size_t g = 0; g < siteInputs; ++g) {
      torch::Tensor x;
      if (Status s = emb.get(e.graphs[g], sites, "sites", batch, x); !s)
        return s;
      std::vector<int64_t> order;
      profiles.push_back(aggregateMean(x, wells.siteWell, order));
    }
    Status s = Status::ok();
    if (e.metric == "replicate_map") {
      s = replicateMap(job, profiles[0]);
    } else if (e.metric == "recall_at") {
      // Candidates: the second graph over every class id of its column.
      int64_t classes = e.options.value("classes", int64_t(0));
      torch::Tensor cand;
      s = emb.get(e.graphs[1], torch::arange(classes, torch::kInt64), "classes", batch, cand);
      if (s)
        reportRanks(job, profiles[0], cand, wells.pert, e.options.value("k", std::vector<int64_t>{1, 5, 10}),
                    "recall");
    } else if (e.metric == "zero_shot") {
      s = zeroShot(job, profiles[0], profiles[1]);
    } else if (e.metric == "knn_retrieval") {
      s = knn(job, profiles[0]);
    } else if (e.metric == "clustering") {
      s = clustering(job, profiles[0]);
    } else {
      s = Status::error("evaluation `" + e.name + "`: unknown metric `" + e.metric + "`");
    }
    if (!s)
      return s;
    out[e.name] = r;
  }
  return Status::ok();
}

} // namespace exprt
