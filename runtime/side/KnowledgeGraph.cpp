#include "side/KnowledgeGraph.h"

#include "prep/Csv.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace exprt {

void KnowledgeGraph::merge(const KnowledgeGraph &other) {
  edges.insert(edges.end(), other.edges.begin(), other.edges.end());
  nodes.insert(other.nodes.begin(), other.nodes.end());
  for (const auto &[r, n] : other.edgesPerRelation)
    edgesPerRelation[r] += n;
  for (const auto &[k, n] : other.nodesPerKind)
    nodesPerKind[k] += n;
  sources.insert(sources.end(), other.sources.begin(), other.sources.end());
}

namespace {
std::string where(const CsvTable &t, int64_t line) { return t.path + ":" + std::to_string(line); }
} // namespace

Status readStringLinks(const std::string &links, int minScore, const std::string &info, KnowledgeGraph &graph) {
  graph = KnowledgeGraph();
  graph.sources.push_back(links);
  std::unordered_map<std::string, std::string> symbolOf;
  if (!info.empty()) {
    graph.sources.push_back(info);
    int name = -1;
    Status s = readCsvRows(info, '\t', [&](const CsvTable &t, const std::vector<std::string> &row, int64_t) {
      if (name < 0 && (name = t.column("preferred_name")) < 0)
        return Status::error(ErrorKind::InputMismatch, info + ":1: no column `preferred_name` in the header (STRING's protein.info)");
      symbolOf.emplace(row[0], row[static_cast<size_t>(name)]);
      graph.nodes.insert(row[static_cast<size_t>(name)]);
      return Status::ok();
    });
    if (!s)
      return s;
  }
  int64_t kept = 0;
  Status s = readCsvRows(links, ' ', [&](const CsvTable &t, const std::vector<std::string> &row, int64_t line) {
    if (t.header.size() != 3 || t.header[2] != "combined_score")
      return Status::error(ErrorKind::InputMalformed, links + ":1: expected STRING's header `protein1 protein2 combined_score`");
    char *end = nullptr;
    long score = std::strtol(row[2].c_str(), &end, 10);
    if (row[2].empty() || *end != '\0' || score < 0 || score > 1000)
      return Status::error(ErrorKind::InputMalformed, where(t, line) + ": combined_score `" + row[2] + "` is not an integer in [0, 1000]");
    if (score < minScore)
      return Status::ok();
    KgEdge e{row[0], row[1], static_cast<float>(score) / 1000.0f};
    if (!info.empty()) {
      for (std::string *p : {&e.a, &e.b}) {
        auto it = symbolOf.find(*p);
        if (it == symbolOf.end())
          return Status::error(ErrorKind::InputMalformed, where(t, line) + ": protein `" + *p + "` is not in " + info);
        *p = it->second;
      }
    }
    graph.nodes.insert(e.a);
    graph.nodes.insert(e.b);
    graph.edges.push_back(std::move(e));
    ++kept;
    return Status::ok();
  });
  if (!s)
    return s;
  graph.edgesPerRelation["STRING"] = kept;
  return Status::ok();
}

Status readHetionet(const std::string &sif, const std::string &nodes, const std::vector<std::string> &metaedges,
                    KnowledgeGraph &graph) {
  graph = KnowledgeGraph();
  std::unordered_map<std::string, std::string> nameOf;
  if (!nodes.empty()) {
    graph.sources.push_back(nodes);
    std::vector<int> c;
    Status s = readCsvRows(nodes, '\t', [&](const CsvTable &t, const std::vector<std::string> &row, int64_t) {
      if (c.empty())
        if (Status r = t.require({"id", "name", "kind"}, c); !r)
          return r;
      const std::string &kind = row[static_cast<size_t>(c[2])];
      ++graph.nodesPerKind[kind];
      const std::string &id = row[static_cast<size_t>(c[0])];
      const std::string &name = nameOf.emplace(id, kind == "Gene" ? row[static_cast<size_t>(c[1])] : id).first->second;
      graph.nodes.insert(name);
      return Status::ok();
    });
    if (!s)
      return s;
  }
  graph.sources.push_back(sif);
  const std::set<std::string> wanted(metaedges.begin(), metaedges.end());
  std::set<std::string> seen;
  Status s = readCsvRows(sif, '\t', [&](const CsvTable &t, const std::vector<std::string> &row, int64_t line) {
    if (t.header.size() != 3)
      return Status::error(ErrorKind::InputMalformed, sif + ":1: expected Hetionet's header `source metaedge target`");
    const std::string &metaedge = row[1];
    seen.insert(metaedge);
    if (!wanted.empty() && !wanted.count(metaedge))
      return Status::ok();
    KgEdge e{row[0], row[2], 1.0f};
    if (!nodes.empty())
      for (std::string *p : {&e.a, &e.b}) {
        auto it = nameOf.find(*p);
        if (it == nameOf.end())
          return Status::error(ErrorKind::InputMalformed, where(t, line) + ": node `" + *p + "` is not in " + nodes);
        *p = it->second;
      }
    graph.nodes.insert(e.a);
    graph.nodes.insert(e.b);
    graph.edges.push_back(std::move(e));
    ++graph.edgesPerRelation[metaedge];
    return Status::ok();
  });
  if (!s)
    return s;
  for (const std::string &m : metaedges)
    if (!seen.count(m)) {
      std::string have;
      for (const std::string &h : seen)
        have += (have.empty() ? "" : ", ") + h;
      return Status::error(ErrorKind::InputMismatch, sif + ": no edge has metaedge `" + m + "` (the file has " + have + ")");
    }
  return Status::ok();
}

Status readGenePairs(const std::string &path, KnowledgeGraph &graph) {
  graph = KnowledgeGraph();
  graph.sources.push_back(path);
  const bool tsv = path.find(".tsv") != std::string::npos;
  int64_t n = 0;
  Status s = readCsvRows(path, tsv ? '\t' : ',', [&](const CsvTable &t, const std::vector<std::string> &row,
                                                     int64_t line) {
    if (row.size() < 2)
      return Status::error(ErrorKind::InputMalformed, where(t, line) + ": a gene pair needs two columns");
    if (row[0].empty() || row[1].empty())
      return Status::error(ErrorKind::InputMalformed, where(t, line) + ": an empty gene name");
    graph.nodes.insert(row[0]);
    graph.nodes.insert(row[1]);
    graph.edges.push_back({row[0], row[1], 1.0f});
    ++n;
    return Status::ok();
  });
  if (!s)
    return s;
  graph.edgesPerRelation["pairs"] = n;
  return Status::ok();
}

Status readCompoundKeys(const std::string &drugbank, CompoundKeys &keys) {
  keys = CompoundKeys();
  CsvTable t;
  if (Status s = readCsv(drugbank, t, '\t'); !s)
    return s;
  std::vector<int> c;
  if (Status s = t.require({"drugbank_id", "inchikey"}, c); !s)
    return s;
  for (const auto &row : t.rows) {
    std::string key = row[static_cast<size_t>(c[1])];
    if (key.rfind("InChIKey=", 0) == 0)
      key = key.substr(9);
    if (key.empty())
      continue;
    const std::string id = "Compound::" + row[static_cast<size_t>(c[0])];
    keys.byKey.emplace(key, id);
    keys.byConnectivity.emplace(key.substr(0, 14), id);
  }
  return Status::ok();
}

std::string CompoundKeys::find(const std::string &inchiKey, bool connectivity) const {
  auto it = byKey.find(inchiKey);
  if (it != byKey.end())
    return it->second;
  if (connectivity && inchiKey.size() >= 14)
    if (auto c = byConnectivity.find(inchiKey.substr(0, 14)); c != byConnectivity.end())
      return c->second;
  return "";
}

std::vector<double> PerturbationGraph::degrees() const {
  std::vector<double> d(static_cast<size_t>(size), 0.0);
  for (const auto &[key, w] : weight)
    d[key / static_cast<uint64_t>(size)] += w;
  return d;
}

PerturbationGraph perturbationGraph(const KnowledgeGraph &graph, const std::vector<std::vector<std::string>> &nodesOf) {
  PerturbationGraph g;
  g.size = static_cast<int64_t>(nodesOf.size());
  std::unordered_map<std::string, std::vector<int64_t>> perturbationsOf;
  for (int64_t i = 0; i < g.size; ++i)
    for (const std::string &node : std::set<std::string>(nodesOf[i].begin(), nodesOf[i].end()))
      if (graph.nodes.count(node))
        perturbationsOf[node].push_back(i);
  auto raise = [&](int64_t i, int64_t j, float w) {
    if (i == j)
      return;
    float &a = g.weight[static_cast<uint64_t>(i * g.size + j)];
    float &b = g.weight[static_cast<uint64_t>(j * g.size + i)];
    a = b = std::max(a, w);
  };
  for (const KgEdge &e : graph.edges) {
    auto pa = perturbationsOf.find(e.a), pb = perturbationsOf.find(e.b);
    if (pa == perturbationsOf.end() || pb == perturbationsOf.end())
      continue;
    for (int64_t i : pa->second)
      for (int64_t j : pb->second)
        raise(i, j, e.weight);
  }
  for (const auto &[node, ps] : perturbationsOf) // sharing a gene or a target
    for (int64_t i : ps)
      for (int64_t j : ps)
        raise(i, j, 1.0f);
  for (int64_t i = 0; i < g.size; ++i) {
    bool found = false;
    for (const std::string &node : nodesOf[i])
      found = found || graph.nodes.count(node);
    if (found)
      ++g.mapped;
    else
      g.unmapped.push_back(i);
  }
  g.pairs = static_cast<int64_t>(g.weight.size() / 2);
  return g;
}

std::vector<float> normalizedLaplacian(const PerturbationGraph &g) {
  const int64_t n = g.size;
  std::vector<double> invSqrt = g.degrees();
  for (double &d : invSqrt)
    d = d > 0 ? 1.0 / std::sqrt(d) : 0.0;
  std::vector<float> l(static_cast<size_t>(n * n), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    l[static_cast<size_t>(i * n + i)] = 1.0f;
  for (const auto &[key, w] : g.weight) {
    size_t i = key / static_cast<uint64_t>(n), j = key % static_cast<uint64_t>(n);
    l[key] = static_cast<float>(-invSqrt[i] * w * invSqrt[j]);
  }
  return l;
}

Status spectralEmbedding(const PerturbationGraph &g, int64_t dim, std::vector<float> &embedding) {
  if (dim < 1 || dim > g.size)
    return Status::error(ErrorKind::InputMismatch, "a spectral embedding of " + std::to_string(g.size) + " perturbations cannot have " +
                         std::to_string(dim) + " dimensions");
  std::vector<float> l = normalizedLaplacian(g);
  torch::Tensor lap = torch::from_blob(l.data(), {g.size, g.size}, torch::kFloat32).to(torch::kFloat64);
  auto [values, vectors] = torch::linalg::eigh(lap, "L"); // ascending eigenvalues
  torch::Tensor u = vectors.slice(1, 0, dim).clone();
  for (int64_t c = 0; c < dim; ++c) {
    torch::Tensor col = u.select(1, c);
    if (col.index({col.abs().argmax()}).item<double>() < 0)
      col.neg_();
  }
  u = u / u.norm(2, 1, true).clamp_min(1e-12);
  torch::Tensor f = u.to(torch::kFloat32).contiguous();
  embedding.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  return Status::ok();
}

std::string coverageReport(const PerturbationGraph &g, const std::vector<std::string> &names) {
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.1f%%", g.size ? 100.0 * static_cast<double>(g.mapped) / g.size : 0.0);
  std::string out = "mapped " + std::to_string(g.mapped) + " of " + std::to_string(g.size) + " perturbations (" +
                    pct + "), " + std::to_string(g.pairs) + " weighted pairs";
  if (!g.unmapped.empty()) {
    out += "; " + std::to_string(g.unmapped.size()) + " without a node in the graph: ";
    for (size_t k = 0; k < g.unmapped.size() && k < 10; ++k)
      out += (k ? ", " : "") + names[static_cast<size_t>(g.unmapped[k])];
    if (g.unmapped.size() > 10)
      out += ", ...";
  }
  return out;
}

Status readGraphSources(const nlohmann::json &sources, const std::function<std::string(const std::string &)> &resolve,
                        KnowledgeGraph &graph) {
  for (const nlohmann::json &src : sources) {
    const std::string kind = src.value("kind", "");
    const nlohmann::json &a = src.at("params");
    auto file = [&](const char *key) {
      std::string path = a.value(key, "");
      return path.empty() ? path : resolve(path);
    };
    KnowledgeGraph one;
    Status s = kind == "gene_pairs"     ? readGenePairs(file("path"), one)
               : kind == "string_links" ? readStringLinks(file("path"), a.value("min_score", 700), file("info"), one)
               : kind == "hetionet"     ? readHetionet(file("path"), file("nodes"),
                                                       a.value("metaedges", std::vector<std::string>{}), one)
                                        : Status::error(ErrorKind::PlanUnsupported, "unknown knowledge-graph source `" + kind + "`");
    if (!s)
      return s;
    graph.merge(one);
  }
  return Status::ok();
}

} // namespace exprt
