#include "side/SideTables.h"

#include "data/LoadScreen.h"
#include "prep/H5ad.h"
#include "record/SafeTensors.h"
#include "record/Sha256.h"
#include "side/KnowledgeGraph.h"
#include "side/Molecules.h"
#include "side/Prompts.h"
#include "side/Transcriptome.h"
#include "side/WordPiece.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

namespace exprt {
namespace fs = std::filesystem;
namespace {

// Bumped when a featuriser changes what it computes.
constexpr const char *kSideVersion = "exp-side/1";

// A side's `path`: `@data/...` is inside the dataset's folder (the simulated
// screen's side files); another is as the spec means it (specPath).
std::string resolvePath(const Plan &plan, const Screen &screen, const std::string &path) {
  if (path.rfind("@data/", 0) == 0)
    return (fs::path(screen.dataDir) / path.substr(6)).lexically_normal().string();
  return specPath(plan, path);
}

// The table of one side: a row per distinct key value, and which rows hold
// a valid structure (morgan with `invalid = "drop"`).
struct Table {
  torch::Tensor values; // [keys, dim] float32
  torch::Tensor valid;  // [keys] uint8
  std::vector<std::string> invalid;
};

Status compute(const std::string &kind, const nlohmann::json &params, const std::string &file,
               const std::vector<std::string> &keys, const std::vector<std::string> &where, int64_t dim,
               const std::string &what, Table &out) {
  const int64_t n = static_cast<int64_t>(keys.size());
  out.values = torch::zeros({n, dim}, torch::kFloat32);
  out.valid = torch::ones({n}, torch::kUInt8);
  auto gather = [&](const EmbeddingTable &table) -> Status {
    std::vector<int64_t> rows;
    if (Status s = mapNames(keys, table, what + ": " + file, rows); !s)
      return s;
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(table.row(static_cast<size_t>(rows[static_cast<size_t>(i)])), dim,
                  out.values.data_ptr<float>() + i * dim);
    return Status::ok();
  };
  if (kind == "embedding_file") {
    EmbeddingTable table;
    if (Status s = readEmbeddingTable(file, table); !s)
      return s;
    if (table.dim != dim)
      return Status::error(ErrorKind::InputMismatch, file + ": " + std::to_string(table.dim) + " value columns, but " + what +
                           " declares dim = " + std::to_string(dim));
    return gather(table);
  }
  if (kind == "transcriptome") {
    AnnData data;
    if (Status s = readH5ad(file, data); !s)
      return s;
    EmbeddingTable bulk, reduced;
    if (Status s = pseudoBulk(data, params.value("group_by", std::string("cell_line")), bulk); !s)
      return s.prefixed(file + ": ");
    if (Status s = reduceTable(bulk, dim, params.value("pca", false), reduced); !s)
      return s.prefixed(file + ": ");
    return gather(reduced);
  }
  if (kind == "morgan") {
    MorganOptions o;
    o.radius = params.value("radius", 2);
    o.bits = static_cast<int>(dim);
    o.chiral = params.value("chiral", false);
    std::vector<float> bits;
    std::vector<char> valid;
    if (Status s = morganFingerprints(keys, where, o, params.value("invalid", std::string("error")) == "drop", bits,
                                      valid, out.invalid);
        !s)
      return s.reworded(s.message() + " (" + what + "; `invalid = \"drop\"` drops such rows)");
    std::copy(bits.begin(), bits.end(), out.values.data_ptr<float>());
    std::copy(valid.begin(), valid.end(), out.valid.data_ptr<uint8_t>());
    return Status::ok();
  }
  return Status::error(ErrorKind::PlanUnsupported, what + ": side information of kind `" + kind + "` is not featurised by this runtime");
}

std::string cachePath(const std::string &cacheDir, const std::string &key) {
  return (fs::path(cacheDir) / "side" / (key + ".safetensors")).string();
}

bool readCached(const std::string &path, Table &t) {
  SafeTensors f;
  if (!fs::exists(path) || !readSafeTensors(path, f) || !f.tensors.count("values") || !f.tensors.count("valid"))
    return false; // a damaged entry is computed again
  t.values = f.tensors["values"];
  t.valid = f.tensors["valid"];
  t.invalid.clear();
  if (auto it = f.metadata.find("invalid"); it != f.metadata.end())
    for (const auto &line : nlohmann::json::parse(it->second, nullptr, false))
      if (line.is_string())
        t.invalid.push_back(line.get<std::string>());
  return true;
}

void removeRows(std::vector<int64_t> &sites, const std::vector<char> &drop) {
  sites.erase(std::remove_if(sites.begin(), sites.end(), [&](int64_t r) { return drop[static_cast<size_t>(r)]; }),
              sites.end());
}

// A knowledge graph over the classes of its key column: each class's gene
// (params.genes' table, else the reader's `gene` column, else the class's
// name) mapped onto the merged sources' nodes, as the dense [K, K] weights
// every batch reads (screen.constants).
Status knowledgeGraphTable(const Plan &plan, Screen &screen, const GraphInput &in, const std::vector<std::string> &names,
                           SideRecord &rec, bool progress) {
  const nlohmann::json &params = in.side["params"];
  const std::string what = plan.sourcePath + ": side information `" + rec.name + "`";
  if (params.value("map", std::string("gene")) != "gene")
    return Status::error(ErrorKind::PlanUnsupported, what + ": `map = \"" + params.value("map", std::string()) +
                         "\"` is not supported in runs yet (map = \"gene\" is)");
  const int64_t k = in.shape.at(0), rows = static_cast<int64_t>(names.size());
  torch::Tensor codes = screen.column(rec.key, torch::arange(rows, torch::kInt64)).contiguous();
  std::vector<std::string> className(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = codes.data_ptr<int64_t>()[r];
    if (c < 0 || c >= k)
      return Status::error(ErrorKind::InputMismatch, what + ": `" + rec.key + "` has class " + std::to_string(c) + ", outside the graph's " +
                           std::to_string(k));
    if (className[static_cast<size_t>(c)].empty())
      className[static_cast<size_t>(c)] = names[static_cast<size_t>(r)];
  }
  auto resolve = [&](const std::string &p) { return resolvePath(plan, screen, p); };
  std::map<std::string, std::string> geneOf;
  if (std::string genes = params.value("genes", std::string()); !genes.empty()) {
    KnowledgeGraph pairs; // the table's rows as (perturbation, gene) pairs
    if (Status s = readGenePairs(resolve(genes), pairs); !s)
      return s.prefixed(what + ": ");
    for (const KgEdge &e : pairs.edges)
      geneOf.emplace(e.a, e.b);
  }
  auto geneColumn = screen.metadata.find("gene");
  std::vector<std::vector<std::string>> nodesOf(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    auto &nodes = nodesOf[static_cast<size_t>(codes.data_ptr<int64_t>()[r])];
    if (!nodes.empty())
      continue;
    const std::string &name = names[static_cast<size_t>(r)];
    std::string gene = !geneOf.empty() ? (geneOf.count(name) ? geneOf[name] : "")
                       : geneColumn != screen.metadata.end() ? geneColumn->second[static_cast<size_t>(r)]
                                                             : name;
    if (!gene.empty())
      nodes.push_back(gene);
  }
  KnowledgeGraph graph;
  if (Status s = readGraphSources(params.value("sources", nlohmann::json::array()), resolve, graph); !s)
    return s.prefixed(what + ": ");
  PerturbationGraph pg = perturbationGraph(graph, nodesOf);
  torch::Tensor w = torch::zeros({k, k}, torch::kFloat32);
  float *out = w.data_ptr<float>();
  for (const auto &[key, weight] : pg.weight)
    out[key] = weight;
  screen.constants["side:" + rec.name] = w;
  rec.values = k;
  rec.dim = k;
  rec.source = graph.sources.empty() ? "" : graph.sources.front();
  if (progress)
    std::fprintf(stderr, "side: %s (knowledge_graph over %s): %s\n", rec.name.c_str(), rec.key.c_str(),
                 coverageReport(pg, className).c_str());
  return Status::ok();
}

// Text: each row's prompt rendered from its template over the row's
// metadata, then WordPiece ids ([CLS] ... [SEP], padded to `length`) from
// the encoder's vocabulary; the tokenizer is hoisted out of the text
// encoder's network by the compiler, so the ids are the network's input.
// Distinct prompts are tokenised once.
Status textTable(const Plan &plan, Screen &screen, const GraphInput &in, const std::string &column, SideRecord &rec,
                 bool progress) {
  const nlohmann::json &params = in.side["params"];
  const std::string what = plan.sourcePath + ": side information `" + rec.name + "`";
  const std::string tmpl = params.value("template", std::string());
  const int64_t length = rec.dim, tableRows = params.value("vocab", int64_t(0));
  const bool lowercase = params.value("lowercase", false);
  std::map<std::string, std::vector<std::string>> columns;
  for (const std::string &name : templateColumns(tmpl)) {
    auto meta = screen.metadata.find(readerColumn(plan.dataKind, name));
    if (meta == screen.metadata.end())
      return Status::error(ErrorKind::InputMismatch, what + ": its template names `" + name + "`, which the `" + plan.dataKind +
                           "` reader does not provide");
    columns[name] = meta->second;
  }
  rec.source = resolvePath(plan, screen, params.value("vocab_file", std::string()));
  WordPieceVocab vocab;
  if (Status s = readVocab(rec.source, vocab); !s)
    return s.prefixed(what + ": ");
  if (static_cast<int64_t>(vocab.tokens.size()) > tableRows)
    return Status::error(ErrorKind::InputMismatch, what + ": " + rec.source + " has " + std::to_string(vocab.tokens.size()) +
                         " tokens, but the text encoder's token table has `vocab = " + std::to_string(tableRows) +
                         "` rows (set `vocab` to at least the file's size)");
  const int64_t rows = screen.perturbation.size(0);
  torch::Tensor ids = torch::empty({rows, length}, torch::kInt64);
  std::map<std::string, std::pair<std::vector<int64_t>, bool>> encoded; // prompt -> ids, truncated
  std::string prompt;
  int64_t truncated = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (Status s = renderTemplate(tmpl, columns, static_cast<size_t>(r), prompt); !s)
      return s.prefixed(what + ": ");
    auto [it, fresh] = encoded.try_emplace(prompt);
    if (fresh) {
      it->second.first = encodeText(vocab, prompt, length, lowercase, &it->second.second);
      truncated += it->second.second;
    }
    std::copy(it->second.first.begin(), it->second.first.end(), ids.data_ptr<int64_t>() + r * length);
  }
  screen.features[column] = ids;
  rec.values = static_cast<int64_t>(encoded.size());
  rec.truncated = truncated;
  if (progress)
    std::fprintf(stderr, "side: %s (text): %lld prompts x %lld tokens%s\n", rec.name.c_str(),
                 static_cast<long long>(rec.values), static_cast<long long>(length),
                 truncated ? (", " + std::to_string(truncated) + " truncated to `length`").c_str() : "");
  return Status::ok();
}

} // namespace

// A table keyed by content (fingerprints, embedding files, transcriptomes):
// one vector per distinct key value, computed once or read from the cache,
// then each row's vector; rows of an invalid structure leave the splits.
Status keyedTable(const Plan &plan, Screen &screen, const GraphInput &in, const std::string &column,
                  const std::vector<std::string> &values, const std::string &cacheDir, bool progress,
                  const std::string &what, SideRecord &rec) {
  const int64_t rows = screen.perturbation.size(0);
  const nlohmann::json &params = in.side["params"];
  // The table's rows: the key's distinct values, each with the first row that has it.
  std::map<std::string, int64_t> rowOfValue;
  for (int64_t r = 0; r < rows; ++r)
    rowOfValue.emplace(values[static_cast<size_t>(r)], r);
  // Where each value is named in messages: the table that defined it when
  // it is not the row's own (JUMP's compound table), else its first row.
  std::vector<std::string> keys, where;
  std::map<std::string, int64_t> code;
  const auto defined = screen.valueWhere.find(readerColumn(plan.dataKind, rec.key));
  for (const auto &[value, first] : rowOfValue) {
    code[value] = static_cast<int64_t>(keys.size());
    keys.push_back(value);
    std::string at = screen.rowWhere.empty() ? "row " + std::to_string(first)
                                             : screen.rowWhere[static_cast<size_t>(first)];
    if (defined != screen.valueWhere.end())
      if (auto it = defined->second.find(value); it != defined->second.end())
        at = it->second + ", first used by " + at;
    where.push_back(std::move(at));
  }
  rec.values = static_cast<int64_t>(keys.size());
  if (params.contains("path"))
    rec.source = resolvePath(plan, screen, params["path"].get<std::string>());
  // The cache key: what is computed, from what.
  Sha256 h;
  h.update(std::string(kSideVersion)).update(rec.kind).update(params.dump()).update(std::to_string(rec.dim));
  if (!rec.source.empty()) {
    std::string file;
    if (!sha256OfFile(rec.source, file))
      return Status::error(ErrorKind::InputUnreadable, rec.source + ": cannot open (" + what + ")");
    h.update(file);
  }
  for (const std::string &k : keys)
    h.update(k).update(std::string(1, '\0'));
  rec.cacheKey = h.hex();
  Table table;
  const std::string cached = cacheDir.empty() ? "" : cachePath(cacheDir, rec.cacheKey);
  rec.fromCache = !cached.empty() && readCached(cached, table) && table.values.size(0) == rec.values &&
                  table.values.size(1) == rec.dim;
  if (!rec.fromCache) {
    if (Status s = compute(rec.kind, params, rec.source, keys, where, rec.dim, what, table); !s)
      return s;
    if (!cached.empty()) {
      std::error_code ec;
      fs::create_directories(fs::path(cached).parent_path(), ec);
      SafeTensors f;
      f.tensors["values"] = table.values;
      f.tensors["valid"] = table.valid;
      f.metadata["invalid"] = nlohmann::json(table.invalid).dump();
      f.metadata["keys"] = std::to_string(keys.size());
      if (Status s = writeSafeTensors(cached, f); !s && progress) // a cache that cannot be written is not fatal
        std::fprintf(stderr, "side: cannot cache %s: %s\n", rec.name.c_str(), s.message().c_str());
    }
  }
  // Per row: its key's vector; rows of an invalid structure leave the splits.
  std::vector<int64_t> rowCode(static_cast<size_t>(rows));
  std::vector<char> drop(static_cast<size_t>(rows), 0);
  const uint8_t *valid = table.valid.contiguous().data_ptr<uint8_t>();
  for (int64_t r = 0; r < rows; ++r) {
    rowCode[static_cast<size_t>(r)] = code[values[static_cast<size_t>(r)]];
    drop[static_cast<size_t>(r)] = valid[rowCode[static_cast<size_t>(r)]] == 0;
  }
  screen.features[column] = table.values.index_select(0, torch::tensor(rowCode, torch::kInt64)).contiguous();
  rec.dropped = std::count(drop.begin(), drop.end(), 1);
  if (rec.dropped) {
    removeRows(screen.trainSites, drop);
    removeRows(screen.evalSites, drop);
    removeRows(screen.valSites, drop);
    if (screen.trainSites.empty() || screen.evalSites.empty())
      return Status::error(ErrorKind::InputMismatch, plan.sourcePath + ": " + what + " drops " + std::to_string(rec.dropped) +
                           " rows with invalid structures, leaving no training or no held-out rows");
  }
  rec.invalid.assign(table.invalid.begin(), table.invalid.begin() + std::min<size_t>(20, table.invalid.size()));
  return Status::ok();
}

Status featuriseSides(const Plan &plan, Screen &screen, const std::string &cacheDir, bool progress,
                      std::vector<SideRecord> &records) {
  records.clear();
  std::map<std::string, const GraphInput *> sides; // by column, once however many graphs read it
  for (const auto &[name, graph] : plan.graphs)
    for (const GraphInput &in : graph.inputs)
      if (!in.side.is_null())
        sides.emplace(in.column, &in);
  for (const auto &[column, in] : sides) {
    auto t0 = std::chrono::steady_clock::now();
    SideRecord rec;
    rec.name = column.substr(column.find(':') + 1);
    rec.kind = in->side.value("kind", std::string());
    rec.key = in->side.value("key", std::string());
    rec.dim = in->shape.empty() ? 0 : in->shape.back();
    const std::string what = "side information `" + rec.name + "`";
    const std::string held = readerColumn(plan.dataKind, rec.key);
    auto meta = screen.metadata.find(held);
    if (meta == screen.metadata.end())
      return Status::error(ErrorKind::InputMismatch, plan.sourcePath + ": " + what + " is keyed by `" + rec.key + "`, which the `" +
                           plan.dataKind + "` reader does not provide" +
                           (plan.dataKind == "simulated_screen" && rec.key == "smiles"
                                ? " (simulated compounds need `format = \"jump\"` or `\"rxrx3_core\"`)"
                                : ""));
    if (rec.kind == "knowledge_graph" || rec.kind == "text") {
      if (Status s = rec.kind == "text" ? textTable(plan, screen, *in, column, rec, progress)
                                        : knowledgeGraphTable(plan, screen, *in, meta->second, rec, progress);
          !s)
        return s;
      rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      records.push_back(std::move(rec));
      continue;
    }
    if (Status s = keyedTable(plan, screen, *in, column, meta->second, cacheDir, progress, what, rec); !s)
      return s;
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress)
      std::fprintf(stderr, "side: %s (%s by %s): %lld values x %lld, %s%s (%.1fs)\n", rec.name.c_str(),
                   rec.kind.c_str(), rec.key.c_str(), static_cast<long long>(rec.values),
                   static_cast<long long>(rec.dim), rec.fromCache ? "cached" : "computed",
                   rec.dropped ? (", " + std::to_string(rec.dropped) + " rows dropped (invalid structures)").c_str()
                               : "",
                   rec.seconds);
    records.push_back(std::move(rec));
  }
  return Status::ok();
}

} // namespace exprt
