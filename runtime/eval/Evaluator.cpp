#include "eval/Evaluator.h"

#include "eval/Metrics.h"

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

std::vector<int64_t> toVector(const torch::Tensor &t) {
  torch::Tensor c = t.contiguous().to(torch::kInt64);
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

} // namespace

Status evaluateAll(const Plan &plan, const Screen &screen, const FeatureStore &features,
                   ParameterStore &params, EmbeddingSource source, uint64_t seed,
                   nlohmann::json &out) {
  Embeddings emb(plan, screen, features, params, source, seed);
  torch::Tensor sites = torch::tensor(screen.evalSites, torch::kInt64);
  // Site -> well aggregation, shared by every metric.
  std::vector<int64_t> siteWell = toVector(screen.well.index_select(0, sites));
  out = nlohmann::json::object();
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
      std::vector<bool> control;
      for (int64_t p : pert)
        control.push_back(p == 0);
      MapResult m = replicateMap(profiles, same, diff, control);
      r["map"] = m.meanMap;
      r["queries"] = m.queries;
      r["groups"] = m.perGroup.size();
      nlohmann::json per = nlohmann::json::object();
      for (const auto &[g, v] : m.perGroup)
        per[std::to_string(g)] = v;
      r["per_group"] = per;
    } else if (e.metric == "recall_at") {
      int64_t classes = e.options.value("classes", int64_t(0));
      torch::Tensor cand;
      if (Status s = emb.get(e.graphs[1], torch::arange(classes, torch::kInt64), "classes", batch, cand); !s)
        return s;
      std::vector<int64_t> ks = e.options.value("k", std::vector<int64_t>{1, 5, 10});
      RecallResult rr = recallAtK(profiles, cand, pert, ks);
      for (const auto &[k, v] : rr.recallAt)
        r["recall@" + std::to_string(k)] = v;
      r["mean_rank"] = rr.meanRank;
      r["median_rank"] = rr.medianRank;
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
