#include "driver/ProfileEval.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace expc {
namespace {

using ast::Decl;
using ast::DeclKind;

// Plain values of a call's arguments (strings, numbers, lists of them).
nlohmann::json plain(const Val &v) {
  switch (v.kind) {
  case VK::Int: return v.i;
  case VK::Float: return v.f;
  case VK::Bool: return v.b;
  case VK::String: return v.s;
  case VK::List: {
    nlohmann::json out = nlohmann::json::array();
    for (const ValPtr &x : v.items)
      out.push_back(plain(*x));
    return out;
  }
  default: return nullptr;
  }
}

nlohmann::json args(const Val &call) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto &[k, v] : call.args)
    if (k.rfind("__", 0) != 0)
      out[k] = plain(*v);
  return out;
}

// Which arguments of each metric are label columns, and which are options.
struct MetricShape {
  std::vector<const char *> columns, options;
};
const std::map<std::string, MetricShape> &metrics() {
  static const std::map<std::string, MetricShape> m = {
      {"replicate_map", {{"sameby", "diffby"}, {"null_size"}}},
      {"knn_retrieval", {{"labels", "exclude_same"}, {"k"}}},
      {"clustering", {{"labels", "batch"}, {}}},
      {"efaar_recall", {{"genes"}, {}}},
  };
  return m;
}

class Builder {
public:
  Builder(const Sema &sema, DiagnosticEngine &diags) : sema_(sema), diags_(diags) {}

  bool build(const std::string &table, nlohmann::json &plan) {
    for (const Decl &d : sema_.root().decls) {
      const DatasetInfo *ds = d.kind == DeclKind::Dataset ? sema_.dataset(d) : nullptr;
      if (!ds || !ds->source || !ds->source->decl)
        continue;
      if (ds->source->decl->name != "profiles") {
        diags_.emit(diag::Unsupported, d.nameRange,
                    fmt::format("evaluating a `{}` dataset with `exp eval`", ds->source->decl->name))
            .help("`exp eval` reads a `profiles` table (std.profiles); `exp run` trains on images");
        return false;
      }
      if (dataset_) {
        diags_.emit(diag::Unsupported, d.nameRange, "a second `profiles` dataset in one `exp eval` spec");
        return false;
      }
      dataset_ = ds;
      nlohmann::json source = args(*ds->source);
      source["path"] = table.empty() ? resolve(source.value("path", "")) : table;
      plan["source"] = source;
      plan["dataset"] = d.name;
      plan["stages"] = nlohmann::json::array();
      if (ds->stages)
        for (const ValPtr &s : ds->stages->items)
          plan["stages"].push_back({{"kind", s->decl ? s->decl->name : ""}, {"params", args(*s)}});
    }
    if (!dataset_) {
      diags_.emit(diag::Unsupported, SourceRange{}, "`exp eval` without a `profiles` dataset")
          .help("declare one: `dataset wells = profiles(\"table.csv\")` (std.profiles)");
      return false;
    }
    if (sema_.trainDecl()) {
      diags_.emit(diag::Unsupported, sema_.trainDecl()->nameRange, "training in an `exp eval` spec")
          .help("`exp eval` scores a table as it is; `exp run` trains");
      return false;
    }
    plan["evaluations"] = nlohmann::json::array();
    bool ok = true;
    for (const Decl &d : sema_.root().decls)
      if (d.kind == DeclKind::Evaluate)
        ok &= evaluation(d, plan["evaluations"]);
    if (ok && plan["evaluations"].empty()) {
      diags_.emit(diag::Unsupported, SourceRange{}, "`exp eval` with no `evaluate` declaration");
      return false;
    }
    return ok;
  }

private:
  // A column of the profiles dataset (the whole table: there is no split).
  bool column(const Val &v, const std::string &what, std::string &out) {
    if (v.kind != VK::Data || v.column.empty() || v.dataset != dataset_ || v.split == "held_out") {
      diags_.emit(diag::Unsupported, v.origin,
                  fmt::format("{} that is not a column of the `profiles` table", what))
          .help("pass the table's own columns, as in `wells.features` or `wells.plate`");
      return false;
    }
    out = v.column;
    return true;
  }

  bool evaluation(const Decl &d, nlohmann::json &out) {
    ValPtr m = sema_.value(d);
    if (!m || m->isError() || !m->decl)
      return false;
    auto shape = metrics().find(m->decl->name);
    if (shape == metrics().end()) {
      diags_.emit(diag::Unsupported, d.value->range,
                  fmt::format("evaluating `{}` over a profile table", m->decl->name))
          .help("`exp eval` runs replicate_map, knn_retrieval, clustering and efaar_recall");
      return false;
    }
    std::string embedding;
    const ValPtr &e = m->args.at("embedding");
    if (!column(*e, "an embedding", embedding))
      return false;
    if (embedding != "features") {
      diags_.emit(diag::Unsupported, e->origin, "an embedding other than the table's `features`");
      return false;
    }
    nlohmann::json options = nlohmann::json::object();
    for (const char *c : shape->second.columns) {
      std::string name;
      if (!column(*m->args.at(c), fmt::format("`{}`", c), name))
        return false;
      options[c] = name;
    }
    for (const char *o : shape->second.options)
      options[o] = plain(*m->args.at(o));
    if (m->decl->name == "efaar_recall" && !knowledgeGraph(*m->args.at("graph"), options))
      return false;
    out.push_back({{"name", d.name}, {"metric", m->decl->name}, {"options", options}});
    return true;
  }

  // EFAAR's annotations: a `knowledge_graph` over the table's gene column,
  // its sources' files relative to the spec.
  bool knowledgeGraph(const Val &g, nlohmann::json &options) {
    const Val *call = g.encoder ? g.encoder.get() : &g;
    const Val *nodes = g.inputs.empty() ? nullptr : g.inputs[0].second.get();
    std::string column;
    if (!call->decl || call->decl->name != "knowledge_graph" || !nodes ||
        !this->column(*nodes, "a knowledge graph over nodes", column))
      return unsupportedGraph(g);
    const Val *map = g.arg("map") ? g.arg("map") : call->arg("map");
    if (map && map->s != "gene") {
      diags_.emit(diag::Unsupported, map->origin, fmt::format("`map = \"{}\"` in `exp eval`", map->s))
          .help("EFAAR's annotations relate genes: `map = \"gene\"`");
      return false;
    }
    if (column != options.value("genes", "")) {
      diags_.emit(diag::Unsupported, nodes->origin, "a knowledge graph over other nodes than `genes`");
      return false;
    }
    const Val *sources = g.arg("sources") ? g.arg("sources") : call->arg("sources");
    nlohmann::json list = nlohmann::json::array();
    for (const ValPtr &src : sources ? sources->items : std::vector<ValPtr>{}) {
      nlohmann::json params = args(*src);
      for (const char *file : {"path", "info", "nodes"})
        if (params.contains(file) && params[file].is_string())
          params[file] = resolve(params[file]);
      list.push_back({{"kind", src->decl ? src->decl->name : ""}, {"params", params}});
    }
    options["graph"] = list;
    return true;
  }

  bool unsupportedGraph(const Val &g) {
    diags_.emit(diag::Unsupported, g.origin, "this knowledge graph in `exp eval`")
        .help("pass `knowledge_graph(nodes = wells.gene, sources = [gene_pairs(\"CORUM.txt\")])`");
    return false;
  }

public:
  // A relative path in the spec is relative to the spec's folder.
  std::string specDir;
  std::string resolve(const std::string &path) const {
    if (path.empty() || path[0] == '/' || specDir.empty())
      return path;
    return specDir + "/" + path;
  }

private:
  const Sema &sema_;
  DiagnosticEngine &diags_;
  const DatasetInfo *dataset_ = nullptr;
};

} // namespace

bool profileEvalPlan(const Sema &sema, DiagnosticEngine &diags, const std::string &table,
                     const std::string &specDir, std::string &out) {
  nlohmann::json plan = {{"format", "exp-profile-eval"}, {"format_version", 1}};
  Builder builder(sema, diags);
  builder.specDir = specDir;
  if (!builder.build(table, plan))
    return false;
  out = plan.dump(1) + "\n";
  return true;
}

} // namespace expc
