#include "eval/Evaluator.h"

#include "eval/MetricJobs.h"
#include "eval/Metrics.h"

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
      return Status::error(ErrorKind::PlanInvalid, "graph `" + graphName + "` must return one embedding" +
                           (key == "classes" ? " of the one column it reads" : ""));
    torch::NoGradGuard noGrad;
    GraphExecutor exec(g, params_);
    std::vector<torch::Tensor> parts;
    for (int64_t begin = 0; begin < sites.size(0); begin += batch) {
      torch::Tensor chunk = sites.slice(0, begin, std::min(begin + batch, sites.size(0)));
      // Candidates over the label set take the class ids themselves.
      parts.push_back(exec.run(key == "classes"
                                   ? std::map<std::string, torch::Tensor>{{g.inputs[0].binding, chunk}}
                                   : features_.inputs(g, screen_, chunk))[0]
                          .to(torch::kCPU)); // the metrics run on the host
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

// Per well, the codes of the labels column the option `key` names.
Status labelsOf(const EvalSpec &e, const Screen &screen, const Wells &wells, const char *key,
                std::vector<int64_t> &out) {
  std::string name = e.options.value(key, "");
  bool isLabels = screen.hasColumn(name) && !screen.features.count(name) && name != "image" &&
                  name != "treated1" && name != "control1" && name != "treated2" && name != "control2";
  if (!isLabels)
    return Status::error(ErrorKind::InputMismatch, "evaluation `" + e.name + "`: `" + key + "` names `" + name +
                         "`, which is not a labels column of the data");
  out = toVector(screen.column(name, wells.repSites));
  return Status::ok();
}

} // namespace

Status evaluateAll(const Plan &plan, const Screen &screen, const FeatureStore &features,
                   ParameterStore &params, EmbeddingSource source, uint64_t seed,
                   nlohmann::json &out, nlohmann::json *plots) {
  Embeddings emb(plan, screen, features, params, source, seed);
  torch::Tensor sites = torch::tensor(screen.evalSites, torch::kInt64);
  const Wells wells = wellsOf(screen);
  std::vector<bool> controls;
  for (int64_t p : wells.pert)
    controls.push_back(p == 0);
  out = nlohmann::json::object();
  if (plots)
    *plots = nlohmann::json::object();
  for (const EvalSpec &e : plan.evaluations) {
    nlohmann::json r;
    r["metric"] = e.metric;
    const int64_t batch = std::max<int64_t>(1, e.options.value("embed_batch", int64_t(256)));
    MetricJob job{e.name, e.options,
                  [&](const char *key, std::vector<int64_t> &v) { return labelsOf(e, screen, wells, key, v); },
                  wells.pert, controls, seed, r, plots};
    if (params.device().is_cuda()) // the run's GPU ranks the profiles too
      job.device = params.device();
    // Each input graph's embedding of the held-out sites, aggregated to wells.
    std::vector<torch::Tensor> profiles;
    // recall_at's candidates are per class, unless they come from rows
    // (a text side's prompts): then they are the held-out wells'.
    const bool rowCandidates = e.options.value("candidates", std::string()) == "rows";
    const size_t siteInputs = e.metric == "recall_at" && !rowCandidates ? 1 : e.graphs.size();
    for (size_t g = 0; g < siteInputs; ++g) {
      torch::Tensor x;
      if (Status s = emb.get(e.graphs[g], sites, "sites", batch, x); !s)
        return s;
      std::vector<int64_t> order;
      profiles.push_back(aggregateMean(x, wells.siteWell, order));
    }
    Status s = Status::ok();
    if (e.metric == "replicate_map") {
      s = replicateMapJob(job, profiles[0]);
    } else if (e.metric == "recall_at" && rowCandidates) {
      // Candidates: the wells' embeddings averaged per perturbation.
      rankClassMeansJob(job, profiles[0], profiles[1], wells.pert,
                        e.options.value("k", std::vector<int64_t>{1, 5, 10}), "recall");
    } else if (e.metric == "recall_at") {
      // Candidates: the second graph over every class id of its column.
      int64_t classes = e.options.value("classes", int64_t(0));
      torch::Tensor cand;
      s = emb.get(e.graphs[1], torch::arange(classes, torch::kInt64), "classes", batch, cand);
      if (s)
        rankJob(job, profiles[0], cand, wells.pert, e.options.value("k", std::vector<int64_t>{1, 5, 10}),
                    "recall");
    } else if (e.metric == "zero_shot") {
      s = zeroShotJob(job, profiles[0], profiles[1]);
    } else if (e.metric == "knn_retrieval") {
      s = knnJob(job, profiles[0]);
    } else if (e.metric == "clustering") {
      s = clusteringJob(job, profiles[0]);
    } else if (e.metric == "few_shot") {
      s = fewShotJob(job, profiles[0]);
    } else {
      s = Status::error(ErrorKind::PlanUnsupported, "evaluation `" + e.name + "`: unknown metric `" + e.metric + "`");
    }
    // A run keeps its other evaluations (and its training) when one of them
    // has nothing to score on the held-out rows: metrics.json says why.
    if (!s && !(s.kind() == ErrorKind::EvaluationImpossible && r.contains("nothing_to_score")))
      return s;
    out[e.name] = r;
  }
  return Status::ok();
}

} // namespace exprt
