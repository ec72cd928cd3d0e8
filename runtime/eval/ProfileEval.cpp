#include "eval/ProfileEval.h"

#include "eval/Metrics.h"
#include "eval/MetricJobs.h"
#include "eval/ProfileStages.h"
#include "eval/Retrieval.h"
#include "prep/Profiles.h"
#include "record/Json.h"
#include "record/Report.h"
#include "side/KnowledgeGraph.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

namespace exprt {
namespace {

using json = nlohmann::json;

std::string listed(const std::vector<std::string> &names) {
  std::string out;
  for (const std::string &n : names)
    out += (out.empty() ? "`" : ", `") + n + "`";
  return out.empty() ? "none" : out;
}

// The source's roles as metadata columns named after them.
Status addRoles(const json &src, const std::string &path, Profiles &p) {
  auto column = [&](const std::string &role, const std::string &name,
                    const std::vector<std::string> *&out) -> Status {
    out = p.meta(name);
    if (!out)
      return Status::error(ErrorKind::InputMismatch, path + ": no metadata column `" + name + "` for `" + role +
                           "` (its metadata columns: " + listed(p.metadataNames) + ")");
    return Status::ok();
  };
  auto add = [&](const std::string &role, std::vector<std::string> values) {
    for (size_t i = 0; i < p.metadataNames.size(); ++i)
      if (p.metadataNames[i] == role) {
        p.metadata[i] = std::move(values);
        return;
      }
    p.metadataNames.push_back(role);
    p.metadata.push_back(std::move(values));
  };
  // The perturbation: its columns joined by `@`; controls by the first.
  std::vector<std::string> pert(p.rows()), control(p.rows());
  std::set<std::string> controls;
  for (const json &c : src.value("controls", json::array()))
    controls.insert(c.get<std::string>());
  std::vector<std::string> names = src.value("perturbation", std::vector<std::string>{});
  if (names.empty())
    return Status::error(ErrorKind::PlanInvalid, "profiles: `perturbation` names no column");
  for (size_t k = 0; k < names.size(); ++k) {
    const std::vector<std::string> *col = nullptr;
    if (Status s = column("perturbation", names[k], col); !s)
      return s;
    for (int64_t r = 0; r < p.rows(); ++r) {
      pert[r] += (k ? "@" : "") + (*col)[r];
      if (k == 0)
        control[r] = controls.count((*col)[r]) ? "1" : "0";
    }
  }
  if (std::find(control.begin(), control.end(), "1") == control.end())
    return Status::error(ErrorKind::EvaluationImpossible, path + ": no control rows (no `" + names[0] + "` value among " +
                         listed({controls.begin(), controls.end()}) + ")");
  std::map<std::string, std::vector<std::string>> roles;
  for (const char *role : {"plate", "well", "batch", "source", "gene", "label"}) {
    std::string name = src.value(role, "");
    if (name.empty() && std::string(role) == "batch")
      name = src.value("plate", ""); // no batch column: plates are the batches
    if (name.empty())
      continue;
    const std::vector<std::string> *col = nullptr;
    if (Status s = column(role, name, col); !s)
      return s;
    roles[role] = *col;
  }
  add("perturbation", std::move(pert));
  add("control", std::move(control));
  for (auto &[role, values] : roles)
    add(role, std::move(values));
  return Status::ok();
}

// Aggregating by columns that cut across perturbations drops the roles.
Status needRole(const Profiles &p, const std::string &role) {
  if (p.meta(role))
    return Status::ok();
  return Status::error(ErrorKind::EvaluationImpossible, "after the stages so far, rows no longer have one `" + role +
                       "` each; aggregate by columns that keep it, e.g. [\"plate\", \"well\"] or "
                       "[\"perturbation\"]");
}

std::vector<bool> controlRows(const Profiles &p) {
  std::vector<bool> out;
  if (const std::vector<std::string> *c = p.meta("control"))
    for (const std::string &v : *c)
      out.push_back(v == "1");
  return out;
}

Status readLines(const std::string &path, std::vector<std::string> &out) {
  std::ifstream in(path);
  if (!in)
    return Status::error(ErrorKind::InputUnreadable, "cannot read the blocklist `" + path + "`");
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line != "blocklist")
      out.push_back(line);
  return Status::ok();
}

Status runStage(const json &stage, Profiles &p, json &record) {
  const std::string kind = stage.value("kind", "");
  const json &a = stage.at("params");
  const int64_t before = p.features.size(1), rowsBefore = p.rows();
  // Stages fitted on the controls need to know them.
  const bool onControls = kind == "sphere" || kind == "tvn" || kind == "pca_center_scale" ||
                          (kind == "robust_mad" && a.value("on", "controls") == "controls");
  if (Status s = onControls ? needRole(p, "control") : Status::ok(); !s)
    return s.prefixed("stage `" + kind + "`: ");
  std::vector<bool> controls = controlRows(p);
  Status s = Status::ok();
  json r = {{"kind", kind}};
  if (kind == "aggregate") {
    s = aggregate(p, a.value("by", std::vector<std::string>{}), a.value("method", "median"));
  } else if (kind == "robust_mad") {
    s = robustMad(p, a.value("by", "plate"), a.value("on", "controls") == "controls" ? controls : std::vector<bool>{},
                  a.value("epsilon", 1e-18));
  } else if (kind == "feature_select") {
    FeatureSelection fs;
    fs.naCutoff = a.value("na_cutoff", 0.05);
    fs.varianceThreshold = a.value("variance", 0.0);
    fs.corrThreshold = a.value("corr_threshold", 0.9);
    if (std::string block = a.value("blocklist", ""); !block.empty())
      s = readLines(block, fs.blocklist);
    std::vector<std::string> dropped;
    if (s)
      s = selectFeatures(p, fs, dropped);
    r["dropped"] = dropped;
  } else if (kind == "sphere") {
    s = sphere(p, controls, a.value("method", "zca"), a.value("epsilon", 1e-6));
  } else if (kind == "tvn") {
    s = tvn(p, controls, a.value("coral", false) ? "batch" : "", a.value("epsilon", 1e-6));
  } else if (kind == "pca_center_scale") {
    s = pcaCenterScale(p, controls, "batch", a.value("components", int64_t(128)));
  } else {
    s = Status::error(ErrorKind::PlanUnsupported, "unknown profile stage `" + kind + "`");
  }
  if (!s)
    return s.prefixed("stage `" + kind + "`: ");
  r["rows"] = {rowsBefore, p.rows()};
  r["features"] = {before, p.features.size(1)};
  record.push_back(r);
  return Status::ok();
}

// EFAAR: the treated rows' mean profile per gene; annotated pairs are the
// graph's edges between present genes; recall at the 5/95 and 10/90
// percentiles of every gene pair's cosine.
Status efaarJob(const MetricJob &j, const Profiles &p, const torch::Tensor &features) {
  const std::vector<std::string> *genes = p.meta(j.options.value("genes", ""));
  if (!genes)
    return Status::error(ErrorKind::InputMismatch, "evaluation `" + j.name + "`: the table has no gene column (set `gene = \"...\"` "
                         "in profiles(...))");
  std::vector<int64_t> rows;
  std::vector<std::string> rowGene;
  for (int64_t r = 0; r < p.rows(); ++r)
    if (!j.controls[r] && !(*genes)[r].empty()) {
      rows.push_back(r);
      rowGene.push_back((*genes)[r]);
    }
  // Codes are 0..n-1 and aggregateMean orders groups by ascending code, so a
  // gene's code is its row of x.
  std::vector<int64_t> code = codesOf(rowGene), order;
  torch::Tensor x = aggregateMean(features.index_select(0, torch::tensor(rows, torch::kInt64)), code, order);
  std::map<std::string, int64_t> index; // gene -> row of x
  for (size_t i = 0; i < rowGene.size(); ++i)
    index.emplace(rowGene[i], code[i]);
  KnowledgeGraph graph;
  if (Status s = readGraphSources(j.options.at("graph"), [](const std::string &p) { return p; }, graph); !s)
    return s.prefixed("evaluation `" + j.name + "`: ");
  std::vector<std::pair<int64_t, int64_t>> annotated;
  for (const KgEdge &e : graph.edges) {
    auto a = index.find(e.a), b = index.find(e.b);
    if (a != index.end() && b != index.end())
      annotated.push_back({a->second, b->second});
  }
  std::optional<EfaarRecall> r = efaarRecall(x, annotated, {{5, 95}, {10, 90}});
  if (!r)
    return Status::error(ErrorKind::EvaluationImpossible, "evaluation `" + j.name + "`: fewer than 20 of the table's " +
                         std::to_string(index.size()) + " genes are in the annotations (EFAAR needs 20)");
  for (const auto &[k, v] : r->recall)
    j.r["recall_" + k] = v;
  j.r["pairs"] = r->pairs;
  j.r["entities"] = r->entities;
  j.r["genes"] = int64_t(index.size());
  return Status::ok();
}

} // namespace

Status evaluateProfileTable(const json &plan, uint64_t seed, json &out, json &plots, json &groups) {
  if (plan.value("format", "") != "exp-profile-eval" || plan.value("format_version", 0) != 1)
    return Status::error(ErrorKind::PlanVersion, "not a profile evaluation plan of format version 1");
  const json &src = plan.at("source");
  const std::string path = src.value("path", "");
  Profiles p;
  if (Status s = readProfiles(path, src.value("table", ""), p, src.value("metadata", std::vector<std::string>{})); !s)
    return s;
  if (Status s = addRoles(src, path, p); !s)
    return s;
  out = json::object();
  out["table"] = {{"path", path}, {"rows", p.rows()}, {"features", p.features.size(1)}};
  out["stages"] = json::array();
  for (const json &stage : plan.at("stages"))
    if (Status s = runStage(stage, p, out["stages"]); !s)
      return s;
  if (const int64_t missing = torch::isnan(p.features).sum().item<int64_t>(); missing > 0)
    return Status::error(ErrorKind::EvaluationImpossible, path + ": " + std::to_string(missing) +
                         " missing feature values remain after the stages; add "
                         "`feature_select(na_cutoff = 0)` to drop their features");
  for (const char *role : {"perturbation", "control"})
    if (Status s = needRole(p, role); !s)
      return s.prefixed(path + ": ");
  const std::vector<bool> controls = controlRows(p);
  const std::vector<int64_t> pert = codesOf(*p.meta("perturbation"));
  out["evaluations"] = json::object();
  plots = json::object();
  groups = json::object();
  for (const json &e : plan.at("evaluations")) {
    const std::string name = e.value("name", ""), metric = e.value("metric", "");
    json r = {{"metric", metric}};
    const json &options = e.at("options");
    auto labels = [&](const char *key, std::vector<int64_t> &v) -> Status {
      const std::string col = options.value(key, "");
      const std::vector<std::string> *values = p.meta(col);
      if (!values)
        return Status::error(ErrorKind::InputMismatch, "evaluation `" + name + "`: `" + key + "` is `" + col +
                             "`, which the table does not have (set it in profiles(...); after "
                             "aggregation only columns constant within each group remain)");
      v = codesOf(*values);
      return Status::ok();
    };
    MetricJob job{name, options, labels, pert, controls, seed, r, &plots};
    Status s = metric == "replicate_map"   ? replicateMapJob(job, p.features)
               : metric == "knn_retrieval" ? knnJob(job, p.features)
               : metric == "clustering"    ? clusteringJob(job, p.features)
               : metric == "efaar_recall"  ? efaarJob(job, p, p.features)
                                           : Status::error(ErrorKind::PlanUnsupported, "evaluation `" + name + "`: unknown metric `" + metric + "`");
    if (!s)
      return s;
    if (metric == "replicate_map") {
      // Each group's mAP and corrected p, by the perturbation's name.
      const std::vector<std::string> &same = *p.meta(options.value("sameby", ""));
      std::vector<int64_t> codes = codesOf(same);
      json rows = json::array();
      std::map<int64_t, std::string> nameOf;
      for (size_t i = 0; i < codes.size(); ++i)
        nameOf.emplace(codes[i], same[i]);
      for (auto &[key, map] : r["per_group"].items())
        rows.push_back({nameOf[std::stoll(key)], map, r["corrected_p"][key]});
      groups[name] = rows;
    }
    out["evaluations"][name] = r;
  }
  return Status::ok();
}


// ---- exp eval's output directory --------------------------------------------

namespace {

std::string csvCell(const std::string &s) {
  if (s.find_first_of(",\"\n") == std::string::npos)
    return s;
  std::string out = "\"";
  for (char c : s)
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string fixed(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

} // namespace

Status writeProfileEvaluation(const std::string &planJson, const std::string &dir, uint64_t seed,
                              int threads, std::string &summary) {
  namespace fs = std::filesystem;
  nlohmann::json plan = nlohmann::json::parse(planJson, nullptr, /*allow_exceptions=*/false);
  if (plan.is_discarded())
    return Status::error(ErrorKind::PlanUnreadable, "the profile evaluation plan is not JSON");
  std::error_code ec;
  if (fs::exists(dir, ec))
    return Status::error(ErrorKind::OutputUnwritable, dir + ": already exists; choose a new directory");
  at::set_num_threads(threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency())));
  nlohmann::json metrics, plots, groups;
  if (Status s = evaluateProfileTable(plan, seed, metrics, plots, groups); !s)
    return s;
  metrics["seed"] = seed;
  // Written beside, then renamed: a failure leaves no directory behind.
  const std::string tmp = dir + ".partial";
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec)
    return Status::error(ErrorKind::OutputUnwritable, tmp + ": cannot create: " + ec.message());
  Status s = writeFileAtomic(tmp + "/metrics.json", metrics.dump(2) + "\n");
  for (auto &[name, rows] : groups.items()) {
    std::string csv = "perturbation,mean_average_precision,corrected_p_value\n";
    for (const nlohmann::json &r : rows)
      csv += csvCell(r[0].get<std::string>()) + "," + fixed(r[1].get<double>()) + "," + fixed(r[2].get<double>()) + "\n";
    if (s)
      s = writeFileAtomic(tmp + "/" + name + "_groups.csv", csv);
  }
  if (s)
    s = writeFileAtomic(tmp + "/report.html",
                        renderReport("exp eval: " + fs::path(dir).filename().string(), metrics, plots));
  if (s) {
    fs::rename(tmp, dir, ec);
    if (ec)
      s = Status::error(ErrorKind::OutputUnwritable, dir + ": cannot write: " + ec.message());
  }
  if (!s) {
    fs::remove_all(tmp, ec);
    return s;
  }
  summary.clear();
  for (auto &[name, r] : metrics["evaluations"].items())
    for (auto &[k, v] : r.items())
      if (v.is_number_float()) {
        char line[160];
        std::snprintf(line, sizeof line, "%-36s %10.4f\n", (name + " " + k).c_str(), v.get<double>());
        summary += line;
      }
  return Status::ok();
}

} // namespace exprt
