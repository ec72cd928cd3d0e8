#include "eval/Evaluator.h"

#include "eval/AveragePrecision.h"
#include "eval/Metrics.h"
#include "eval/Retrieval.h"

#include <torch/torch.h>

namespace exprt {
namespace {


class Embeddings {
public:
  Embeddings(const Plan &plan, const Screen &screen, const FeatureStore &features,
             ParameterStore &params, EmbeddingSource source, uint64_t seed)
      : plan_(plan), screen_(screen), features_(features), params_(params), source_(source),
        seed_(seed) {}

  // The graph's output for `inputs` (a column's values), computed once.
  // `batch` rows at a time (the `evaluate` block's setting).
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

} // namespace

Status evaluateAll(const Plan &plan, const Screen &screen, const FeatureStore &features,
                   ParameterStore &params, EmbeddingSource source, uint64_t seed,
                   nlohmann::json &out, nlohmann::json *plots) {
  Embeddings emb(plan, screen, features, params, source, seed);
  torch::Tensor sites = torch::tensor(screen.evalSites, torch::kInt64);
  // Site -> well aggregation, shared by every metric.
  std::vector<int64_t> siteWell = toVector(screen.well.index_select(0, sites));
  out = nlohmann::json::object();
  if (plots)
    *plots = nlohmann::json::object();
  for (const EvalSpec &e : plan.evaluations) {
    nlohmann::json r;
    r["metric"] = e.metric;
    torch::Tensor x;
    const int64_t batch = std::max<int64_t>(1, e.options.value("batch", int64_t(256)));
    if (Status s = emb.get(e.graphs[0], sites, "sites", batch, x); !s)
      return s;
    std::vector<int64_t> wells;
    torch::Tensor profiles = aggregateMean(x, siteWell, wells);
    torch::Tensor wellIdx = torch::tensor(wells, torch::kInt64);
    // Per-well metadata: any site of the well will do; take the first.
    std::map<int64_t, int64_t> firstSite;
    for (size_t i = 0; i < siteWell.size(); ++i)
      firstSite.emplace(siteWell[i], screen.evalSites[i]);
    std::vector<int64_t> rep;
    for (int64_t w : wells)
      rep.push_back(firstSite[w]);
    torch::Tensor repSites = torch::tensor(rep, torch::kInt64);
    std::vector<int64_t> pert = toVector(screen.perturbation.index_select(0, repSites));
    if (e.metric == "replicate_map") {
      std::string sameby = e.options.value("sameby", ""), diffby = e.options.value("diffby", "");
      if (!screen.hasColumn(sameby) || !screen.hasColumn(diffby) || sameby == "image" ||
          diffby == "image")
        return Status::error("evaluation `" + e.name + "`: unknown columns `" + sameby +
                             "`/`" + diffby + "`");
      std::vector<int64_t> same = toVector(screen.column(sameby, repSites));
      std::vector<int64_t> diff = toVector(screen.column(diffby, repSites));
      PairRules rules;
      rules.posSameby = {0};
      rules.posDiffby = {1};
      for (int64_t p : pert)
        rules.controls.push_back(p == 0);
      ApScores ap = averagePrecision(profiles, {same, diff}, rules);
      MapOptions mo;
      mo.nullSize = e.options.value("null_size", int64_t(10000));
      mo.seed = seed;
      MapSummary m = meanAveragePrecision(ap, same, mo);
      r["map"] = m.meanMap;
      r["fraction_retrieved"] = m.fractionRetrieved;
      r["queries"] = int64_t(ap.row.size());
      r["groups"] = m.groups.size();
      nlohmann::json per = nlohmann::json::object(), pv = nlohmann::json::object();
      for (const MapGroup &g : m.groups) {
        per[std::to_string(g.key)] = g.map;
        pv[std::to_string(g.key)] = g.correctedP;
      }
      r["per_group"] = per;
      r["corrected_p"] = pv;
      if (plots)
        (*plots)[e.name]["map2d"] = pcaMap(profiles, pert, diff);
    } else if (e.metric == "recall_at") {
      int64_t classes = e.options.value("classes", int64_t(0));
      torch::Tensor cand;
      if (Status s = emb.get(e.graphs[1], torch::arange(classes, torch::kInt64), "classes", batch, cand); !s)
        return s;
      std::vector<int64_t> ks = e.options.value("k", std::vector<int64_t>{1, 5, 10});
      std::vector<int64_t> curve;
      for (int64_t k = 1; k <= std::min<int64_t>(classes, 50); ++k)
        curve.push_back(k);
      std::vector<int64_t> all = ks;
      all.insert(all.end(), curve.begin(), curve.end());
      CrossModalRecall cr = crossModalRecall(profiles, cand, pert, all);
      for (int64_t k : ks) {
        r["recall@" + std::to_string(k)] = cr.forward.recallAt.at(k);
        r["reverse_recall@" + std::to_string(k)] = cr.reverse.recallAt.at(k);
      }
      r["mean_rank"] = cr.forward.meanRank;
      r["median_rank"] = cr.forward.medianRank;
      r["reverse_mean_rank"] = cr.reverse.meanRank;
      if (plots) {
        std::vector<double> fwd, rev;
        for (int64_t k : curve) {
          fwd.push_back(cr.forward.recallAt.at(k));
          rev.push_back(cr.reverse.recallAt.at(k));
        }
        (*plots)[e.name]["recall_curve"] = {{"k", curve}, {"forward", fwd}, {"reverse", rev}};
      }
      r["candidates"] = classes;
      r["queries"] = profiles.size(0);
    } else {
      return Status::error("evaluation `" + e.name + "`: unknown metric `" + e.metric + "`");
    }
    out[e.name] = r;
  }
  return Status::ok();
}

} // namespace exprt
