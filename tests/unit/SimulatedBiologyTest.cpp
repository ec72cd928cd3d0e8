// The simulated screen's biology (issue 6): the knowledge graph follows the
// modules, compounds share structure where they share effect, cell lines
// respond differently, and all of it is written in the formats real side
// information comes in, readable by the readers that read real files.
#include "data/simulator/SimulatedRender.h"
#include "data/simulator/SimulatedScreen.h"
#include "prep/Archive.h"
#include "prep/Csv.h"
#include "prep/H5ad.h"
#include "prep/Pack.h"
#include "prep/Readers.h"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <torch/torch.h>

#include <unistd.h>

using namespace exprt;
namespace fs = std::filesystem;

namespace {

nlohmann::json smallScreen(nlohmann::json extra) {
  nlohmann::json p = {{"seed", 5},     {"plates", 4},     {"holdout_plates", 1}, {"perturbations", 30},
                      {"modules", 5},  {"replicates", 1}, {"controls", 2},       {"sites", 1},
                      {"channels", 3}, {"image_size", 16}};
  for (auto &[k, v] : extra.items())
    p[k] = v;
  return p;
}

double cosine(const EffectVector &a, const EffectVector &b) {
  double ab = 0, aa = 0, bb = 0;
  for (int f = 0; f < kFeatures; ++f) {
    ab += a[f] * b[f];
    aa += a[f] * a[f];
    bb += b[f] * b[f];
  }
  return ab / std::sqrt(aa * bb + 1e-12);
}

fs::path scratch(const std::string &name) {
  fs::path d = fs::temp_directory_path() / ("exp-biology-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

} // namespace

TEST_CASE("simulated biology: both knowledge graphs are dense within modules, sparse across") {
  Rendered r;
  REQUIRE(render(smallScreen({}), r).isOk());
  const Biology &bio = r.bio;
  REQUIRE(bio.genes.size() == 30);
  std::set<std::string> symbols;
  for (const SimGene &g : bio.genes)
    symbols.insert(g.symbol);
  CHECK(symbols.size() == bio.genes.size());
  for (const std::vector<SimEdge> *graph : {&bio.string, &bio.hetionet}) {
    double within = 0, across = 0, pairsWithin = 0, pairsAcross = 0;
    for (size_t a = 0; a < bio.genes.size(); ++a)
      for (size_t b = a + 1; b < bio.genes.size(); ++b)
        (bio.genes[a].module == bio.genes[b].module ? pairsWithin : pairsAcross) += 1;
    for (const SimEdge &e : *graph) {
      CHECK(e.a < e.b);
      CHECK((e.score >= 150 && e.score < 1000));
      (bio.genes[e.a].module == bio.genes[e.b].module ? within : across) += 1;
    }
    CHECK(within / pairsWithin > 0.35);
    CHECK(across / pairsAcross < 0.1);
  }
  // Knock-downs take their gene's module.
  for (int64_t k = 1; k <= 30; ++k)
    CHECK(r.module[k] == bio.genes[k - 1].module);
}

TEST_CASE("simulated compounds: distinct SMILES from shared scaffolds; shared structure, shared effect") {
  Rendered r;
  REQUIRE(render(smallScreen({{"compounds", 24}}), r).isOk());
  const Biology &bio = r.bio;
  REQUIRE(bio.compounds.size() == 24);
  std::set<std::string> smiles;
  int targeted = 0;
  for (const SimCompound &c : bio.compounds) {
    smiles.insert(c.smiles);
    // Balanced brackets and ring closures: the SMILES an RDKit parse needs
    // (all 3,024 scaffold/substituent combinations parse; docs/data.md).
    int depth = 0;
    std::map<char, int> rings;
    for (char ch : c.smiles) {
      depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
      CHECK(depth >= 0);
      if (ch >= '1' && ch <= '9')
        rings[ch] ^= 1;
    }
    CHECK(depth == 0);
    for (auto [digit, open] : rings)
      CHECK_MESSAGE(open == 0, c.smiles);
    if (c.target >= 0) {
      ++targeted;
      CHECK(bio.genes[c.target].module == c.module);
    }
  }
  CHECK(smiles.size() == 24);
  CHECK(targeted > 0);
  CHECK(targeted < 24);
  double same = 0, other = 0, nSame = 0, nOther = 0;
  for (size_t a = 0; a < 24; ++a)
    for (size_t b = a + 1; b < 24; ++b) {
      double c = cosine(bio.compounds[a].effect, bio.compounds[b].effect);
      bool shared = bio.compounds[a].scaffold == bio.compounds[b].scaffold;
      (shared ? same : other) += c;
      (shared ? nSame : nOther) += 1;
    }
  MESSAGE("effect cosine: same scaffold " << same / nSame << ", different " << other / nOther);
  CHECK(same / nSame > other / nOther + 0.3);
  // Compounds are the last perturbations and take their compound's effect.
  for (int f = 0; f < kFeatures; ++f)
    CHECK(r.effects[(6 + 1) * kFeatures + f] == bio.compounds[0].effect[f]);
}

TEST_CASE("simulated cell lines: one line is the reference; several respond as they express") {
  Rendered one;
  REQUIRE(render(smallScreen({}), one).isOk());
  for (double x : one.bio.response)
    CHECK(x == 1.0);
  for (double x : one.bio.lines[0].base)
    CHECK(x == 0.0);
  Rendered four;
  REQUIRE(render(smallScreen({{"cell_lines", 4}}), four).isOk());
  const Biology &bio = four.bio;
  REQUIRE(bio.lines.size() == 4);
  const int64_t K = 31;
  double spread = 0;
  for (int64_t k = 1; k < K; ++k) {
    double lo = 10, hi = 0;
    for (int64_t l = 0; l < 4; ++l) {
      lo = std::min(lo, bio.response[l * K + k]);
      hi = std::max(hi, bio.response[l * K + k]);
    }
    spread += std::log(hi / lo) / (K - 1);
  }
  MESSAGE("mean log ratio of the strongest to the weakest line's response: " << spread);
  CHECK(spread > 0.3);
  // Knock-downs of one module respond alike in a line; the module's
  // expression there sets it.
  for (int64_t l = 0; l < 4; ++l)
    for (int64_t k = 1; k < K; ++k)
      for (int64_t j = k + 1; j < K; ++j)
        if (bio.genes[k - 1].module == bio.genes[j - 1].module)
          CHECK(std::abs(std::log(bio.response[l * K + k] / bio.response[l * K + j])) < 2.0);
  // Plate p holds line p % 4.
  for (size_t i = 0; i < four.lineOf.size(); ++i)
    CHECK(four.lineOf[i] == four.plateOf[i] % 4);
  Rendered tooFew;
  CHECK(render(smallScreen({{"cell_lines", 5}}), tooFew).message().find("need at least as many plates") !=
        std::string::npos);
}

TEST_CASE("simulated side information: STRING, Hetionet and the cell-line table in their formats") {
  fs::path d = scratch("side");
  REQUIRE(writeSimulatedScreen(smallScreen({{"cell_lines", 2}}), d.string()).isOk());
  Rendered r;
  REQUIRE(render(smallScreen({{"cell_lines", 2}}), r).isOk());
  CsvTable links, info, nodes, edges, lines, sirnas;
  REQUIRE(readCsv((d / "side/string.protein.links.txt.gz").string(), links, ' ').isOk());
  CHECK(links.header == std::vector<std::string>{"protein1", "protein2", "combined_score"});
  CHECK(links.rows.size() == 2 * r.bio.string.size());
  CHECK(links.rows[0][0].rfind("9606.ENSP", 0) == 0);
  REQUIRE(readCsv((d / "side/string.protein.info.txt.gz").string(), info, '\t').isOk());
  CHECK(info.header[0] == "#string_protein_id");
  CHECK(info.rows.size() == 30);
  REQUIRE(readCsv((d / "side/hetionet-nodes.tsv").string(), nodes, '\t').isOk());
  std::map<std::string, int> kinds;
  for (const auto &row : nodes.rows)
    kinds[row[2]]++;
  CHECK(kinds["Gene"] == 30);
  CHECK(kinds["Pathway"] == 5);
  REQUIRE(readCsv((d / "side/hetionet-edges.sif.gz").string(), edges, '\t').isOk());
  std::map<std::string, size_t> metaedges;
  for (const auto &row : edges.rows)
    metaedges[row[1]]++;
  CHECK(metaedges["GiG"] == r.bio.hetionet.size());
  CHECK(metaedges["GpPW"] == 30);
  REQUIRE(readCsv((d / "side/cell_lines.csv").string(), lines).isOk());
  CHECK(lines.header.size() == 9); // cell_line, z0..z7
  CHECK(lines.rows.size() == 2);
  CHECK(lines.rows[1][0] == "SIMB");
  // Single-cell counts: pseudo-bulk log expression follows each line's truth.
  AnnData counts;
  REQUIRE(readH5ad((d / "side/cell_lines.h5ad").string(), counts).isOk());
  CHECK(counts.obs == 80);
  CHECK(counts.vars == 30 + 64);
  CHECK(counts.sparse);
  CHECK(counts.obsColumns.at(0).first == "cell_line");
  for (int64_t l = 0; l < 2; ++l) {
    std::vector<double> mean(counts.vars, 0.0);
    for (int64_t c = 40 * l; c < 40 * (l + 1); ++c)
      for (int64_t k = counts.indptr[c]; k < counts.indptr[c + 1]; ++k)
        mean[counts.indices[k]] += counts.data[k] / 40.0;
    double err = 0;
    for (int64_t g = 0; g < counts.vars; ++g)
      err += std::abs(std::log(mean[g] + 1e-3) - r.bio.logExpression[l * counts.vars + g]) / counts.vars;
    CHECK(err < 0.2);
  }
  REQUIRE(readCsv((d / "side/sirna_genes.csv").string(), sirnas).isOk());
  CHECK(sirnas.rows.size() == 30);
  // The images' metadata names the lines and the siRNAs' genes.
  SiteIndex index;
  REQUIRE(readRxrx1(d.string(), 3, index).isOk());
  std::set<std::string> types(index.columns["cell_type"].begin(), index.columns["cell_type"].end());
  CHECK(types == std::set<std::string>{"SIMA", "SIMB"});
  std::ifstream in(d / "ground_truth.json");
  nlohmann::json truth = nlohmann::json::parse(in);
  CHECK(truth["version"] == 2);
  CHECK(truth["genes"].size() == 30);
  CHECK(truth["perturbations"][sirnas.rows[0][0]]["gene"] == sirnas.rows[0][1]);
  CHECK(truth["perturbations"][sirnas.rows[0][0]]["response"].size() == 2);
  fs::remove_all(d);
  // Compounds need JUMP's layout; several lines RxRx1's.
  CHECK(writeSimulatedScreen(smallScreen({{"compounds", 4}}), d.string()).message().find("siRNAs only") !=
        std::string::npos);
  CHECK(writeSimulatedScreenJump(smallScreen({{"cell_lines", 2}}), d.string()).message().find("one cell line") !=
        std::string::npos);
  fs::remove_all(d);
}

TEST_CASE("simulated JUMP screen with compounds: the reader joins SMILES and genes to each site") {
  fs::path d = scratch("jump");
  nlohmann::json params = smallScreen({{"compounds", 12}, {"channels", 5}, {"format", "jump"}});
  REQUIRE(writeSimulatedScreenJump(params, d.string()).isOk());
  SiteIndex index;
  REQUIRE(readJump(d.string(), 5, index).isOk());
  Rendered r;
  REQUIRE(render(params, r).isOk());
  std::map<std::string, std::set<std::string>> byType;
  for (size_t i = 0; i < index.size(); ++i) {
    const std::string &type = index.columns["perturbation_type"][i];
    byType[type].insert(index.columns["perturbation"][i]);
    if (type == "compound") {
      CHECK(!index.columns["smiles"][i].empty());
      CHECK(index.columns["gene"][i].empty());
    } else if (type == "crispr") {
      CHECK(index.columns["gene"][i].rfind("SIMG", 0) == 0);
    } else {
      CHECK(type == "control");
    }
  }
  CHECK(byType["compound"].size() == 12);
  CHECK(byType["crispr"].size() == 18);
  CHECK(byType["control"] == std::set<std::string>{kJumpControl});
  std::set<std::string> smiles(index.columns["smiles"].begin(), index.columns["smiles"].end());
  smiles.erase("");
  std::set<std::string> truth = {"CS(C)=O"}; // DMSO, as JUMP's compound table lists it
  for (const SimCompound &c : r.bio.compounds)
    truth.insert(c.smiles);
  CHECK(smiles == truth);
  fs::remove_all(d);
}

TEST_CASE("simulated screen in RxRx3-core's layout: JPEG 2000 in tar shards packs as the PNGs do") {
  // One site per well and 6 channels; lossless JPEG 2000 and 8-bit PNG of
  // the same rendering pack to the same pixels.
  nlohmann::json params = smallScreen({{"channels", 6}, {"cell_lines", 2}, {"format", "rxrx3_core"}});
  fs::path d3 = scratch("rxrx3"), d1 = scratch("rxrx1");
  REQUIRE(writeSimulatedScreenRxrx3(params, d3.string()).isOk());
  REQUIRE(writeSimulatedScreen(params, d1.string()).isOk());
  SiteIndex i3, i1;
  REQUIRE(readRxrx3Core(d3.string(), i3).isOk());
  REQUIRE(readRxrx1(d1.string(), 6, i1).isOk());
  REQUIRE(i3.size() == i1.size());
  CHECK(i3.files[0][0].find(".tar!/") != std::string::npos);
  CHECK(i3.columns["cell_type"] == i1.columns["cell_type"]);
  CHECK(i3.columns["split"] == i1.columns["split"]);
  PackOptions po;
  po.size = 16;
  po.threads = 2;
  PackedImages p3, p1;
  REQUIRE(packImages(i3, po, p3).isOk());
  REQUIRE(packImages(i1, po, p1).isOk());
  CHECK(torch::equal(p3.images, p1.images));
  // With compounds: SMILES and genes per well.
  fs::remove_all(d3);
  REQUIRE(writeSimulatedScreenRxrx3(smallScreen({{"channels", 6}, {"compounds", 10}}), d3.string()).isOk());
  REQUIRE(readRxrx3Core(d3.string(), i3).isOk());
  std::set<std::string> types(i3.columns["perturbation_type"].begin(), i3.columns["perturbation_type"].end());
  CHECK(types == std::set<std::string>{"compound", "control", "crispr"});
  // A corrupt member names the shard, the member and the metadata line; a
  // missing member the metadata line; a truncated shard the shard.
  std::vector<std::pair<std::string, std::string>> members;
  fs::path shard = fs::directory_iterator(d3 / "shards")->path();
  REQUIRE(readArchive(shard.string(), [&](const std::string &n, const std::string &b) {
            members.push_back({n, b});
            return true;
          }).isOk());
  members[2].second = members[2].second.substr(0, members[2].second.size() / 3);
  REQUIRE(writeTar(shard.string(), members).isOk());
  REQUIRE(readRxrx3Core(d3.string(), i3).isOk());
  Status bad = packImages(i3, po, p3);
  CHECK(bad.message().find(shard.string() + "!/" + members[2].first + ": not a readable JPEG 2000") !=
        std::string::npos);
  CHECK(bad.message().find("(channel 3 of the site at " + (d3 / "metadata_rxrx3_core.csv").string() + ":") !=
        std::string::npos);
  REQUIRE(writeTar(shard.string(), {members.begin() + 1, members.end()}).isOk());
  Status missing = readRxrx3Core(d3.string(), i3);
  CHECK(missing.message().find("metadata_rxrx3_core.csv:2: no shard under") != std::string::npos);
  REQUIRE(writeTar(shard.string(), members).isOk());
  fs::resize_file(shard, fs::file_size(shard) / 2 + 100);
  Status cut = readRxrx3Core(d3.string(), i3);
  CHECK_MESSAGE(cut.message().find(shard.string() + ": ") == 0, cut.message());
  fs::remove_all(d3);
  fs::remove_all(d1);
}
