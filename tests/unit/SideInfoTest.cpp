// Side information (issue 7): knowledge graphs, transcriptomes, molecules and
// text, on the real files in ../shared/data (skipped when absent) and on
// small cases checked by hand.
#include "data/LoadScreen.h"
#include "prep/Csv.h"
#include "prep/H5ad.h"
#include "side/KnowledgeGraph.h"
#include "side/Molecules.h"
#include "side/Prompts.h"
#include "side/Transcriptome.h"
#include "side/WordPiece.h"

#include "SharedData.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace exprt;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string &name) {
  fs::path d = fs::temp_directory_path() / ("exp-side-test-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void writeText(const fs::path &p, const std::string &text) { std::ofstream(p, std::ios::binary) << text; }

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      if (i > start)
        out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

} // namespace

// --- knowledge graphs ---------------------------------------------------------

TEST_CASE("real data: Hetionet nodes and the edge subset load with the right counts per kind and metaedge") {
  SKIP_WITHOUT_SHARED_DATA("hetionet");
  KnowledgeGraph g;
  REQUIRE(readHetionet((shared / "hetionet/integrate_edges-5k.sif.gz").string(),
                       (shared / "hetionet/hetionet-v1.0-nodes.tsv").string(), {}, g)
              .isOk());
  // Hetionet's own tables are the reference: nodes per kind as metanodes.tsv
  // states them; the subset keeps at most 5,000 edges of each metaedge.
  CsvTable metanodes, metaedges;
  REQUIRE(readCsv((shared / "hetionet/metanodes.tsv").string(), metanodes, '\t').isOk());
  REQUIRE(readCsv((shared / "hetionet/metaedges.tsv").string(), metaedges, '\t').isOk());
  int64_t nodes = 0;
  for (const auto &row : metanodes.rows) {
    CHECK_MESSAGE(g.nodesPerKind[row[0]] == std::stoll(row[3]), row[0]);
    nodes += std::stoll(row[3]);
  }
  CHECK(nodes == 47031);
  CHECK(g.nodesPerKind.size() == 11);
  int64_t edges = 0;
  for (const auto &row : metaedges.rows) {
    CHECK_MESSAGE(g.edgesPerRelation[row[1]] == std::min<int64_t>(5000, std::stoll(row[2])), row[1]);
    edges += g.edgesPerRelation[row[1]];
  }
  CHECK(g.edgesPerRelation.size() == 24);
  CHECK(edges == 99676);
  CHECK(static_cast<int64_t>(g.edges.size()) == edges);
  // Genes are named by symbol, other nodes keep their ids.
  CHECK(g.nodes.count("TP53"));
  CHECK(g.nodes.count("Compound::DB00014"));

  // Choosing metaedges; one the file lacks is named.
  KnowledgeGraph genes;
  REQUIRE(readHetionet((shared / "hetionet/integrate_edges-5k.sif.gz").string(),
                       (shared / "hetionet/hetionet-v1.0-nodes.tsv").string(), {"GiG", "GcG"}, genes)
              .isOk());
  CHECK(genes.edges.size() == 10000);
  for (const KgEdge &e : genes.edges)
    CHECK(e.a.find("::") == std::string::npos); // symbols
  Status s = readHetionet((shared / "hetionet/integrate_edges-5k.sif.gz").string(), "", {"GxG"}, genes);
  CHECK(s.message().find("no edge has metaedge `GxG`") != std::string::npos);
}

TEST_CASE("real data: the EFAAR StringDB pair list maps onto Hetionet's genes, coverage reported") {
  SKIP_WITHOUT_SHARED_DATA("efaar_annotations");
  KnowledgeGraph pairs, hetionet;
  REQUIRE(readGenePairs((shared / "efaar_annotations/StringDB.txt").string(), pairs).isOk());
  CHECK(pairs.edgesPerRelation["pairs"] == 116118);
  CHECK(pairs.nodes.size() == 10335);
  REQUIRE(readHetionet((shared / "hetionet/integrate_edges-5k.sif.gz").string(),
                       (shared / "hetionet/hetionet-v1.0-nodes.tsv").string(), {"GiG"}, hetionet)
              .isOk());
  // Each StringDB gene is a "perturbation" mapped onto Hetionet's gene nodes
  // (reference: 9,913 of the 10,335 symbols are Hetionet genes, counted with
  // Python over the same files).
  std::vector<std::string> genes(pairs.nodes.begin(), pairs.nodes.end());
  std::sort(genes.begin(), genes.end());
  std::vector<std::vector<std::string>> nodesOf;
  for (const std::string &gene : genes)
    nodesOf.push_back({gene});
  PerturbationGraph onHetionet = perturbationGraph(hetionet, nodesOf);
  CHECK(onHetionet.mapped == 9913);
  CHECK(onHetionet.unmapped.size() == 422);
  std::string report = coverageReport(onHetionet, genes);
  MESSAGE("StringDB genes on Hetionet: " << report);
  CHECK(report.rfind("mapped 9913 of 10335 perturbations (95.9%)", 0) == 0);
  // Merged with the pairs themselves, every gene is covered and W is symmetric.
  KnowledgeGraph merged = hetionet;
  merged.merge(pairs);
  PerturbationGraph both = perturbationGraph(merged, nodesOf);
  CHECK(both.mapped == 10335);
  CHECK(both.pairs >= onHetionet.pairs);
  for (const auto &[key, w] : both.weight) {
    int64_t i = static_cast<int64_t>(key) / both.size, j = static_cast<int64_t>(key) % both.size;
    CHECK(both.at(j, i) == w);
    CHECK(i != j);
  }
}

TEST_CASE("real data: JUMP-Target compounds featurise and their targets map onto graph genes") {
  SKIP_WITHOUT_SHARED_DATA("jump_target");
  KnowledgeGraph hetionet;
  REQUIRE(readHetionet((shared / "hetionet/integrate_edges-5k.sif.gz").string(),
                       (shared / "hetionet/hetionet-v1.0-nodes.tsv").string(), {"GiG", "CbG"}, hetionet)
              .isOk());
  CompoundKeys keys;
  REQUIRE(readCompoundKeys((shared / "hetionet/drugbank-slim.tsv").string(), keys).isOk());
  int64_t total = 0, mapped = 0;
  for (const char *file : {"JUMP-Target-1_compound_metadata.tsv", "JUMP-Target-2_compound_metadata.tsv"}) {
    CsvTable t;
    REQUIRE(readCsv((shared / "jump_target" / file).string(), t, '\t').isOk());
    std::vector<int> c;
    REQUIRE(t.require({"smiles", "target_list", "InChIKey", "pert_iname"}, c).isOk());
    std::vector<std::string> smiles, where, names;
    std::vector<std::vector<std::string>> targets;
    int64_t byKey = 0, byConnectivity = 0;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      smiles.push_back(t.rows[r][c[0]]);
      where.push_back(t.where(r));
      names.push_back(t.rows[r][c[3]]);
      targets.push_back(split(t.rows[r][c[1]], '|'));
      byKey += !keys.find(t.rows[r][c[2]], false).empty();
      byConnectivity += !keys.find(t.rows[r][c[2]], true).empty();
    }
    // Every SMILES featurises (Morgan, CLOOME's radius 3, 1024 chiral bits).
    std::vector<float> bits;
    std::vector<char> valid;
    std::vector<std::string> invalid;
    REQUIRE(morganFingerprints(smiles, where, {3, 1024, true}, false, bits, valid, invalid).isOk());
    CHECK(invalid.empty());
    for (size_t r = 0; r < smiles.size(); ++r) {
      float on = 0;
      for (int b = 0; b < 1024; ++b)
        on += bits[r * 1024 + size_t(b)];
      CHECK(on > 0);
    }
    // Target lists onto Hetionet's genes: all but the one compound without targets.
    PerturbationGraph g = perturbationGraph(hetionet, targets);
    MESSAGE(std::string(file) << ": " << coverageReport(g, names));
    CHECK(g.mapped == static_cast<int64_t>(t.rows.size()) - 1);
    CHECK(g.pairs > 0);
    total += static_cast<int64_t>(t.rows.size());
    mapped += g.mapped;
    // Compounds onto Hetionet's compound nodes by InChIKey (reference, with
    // Python: 43 exact keys in each file; 65 of Target-1 by the first block).
    CHECK(byKey == 43);
    if (std::string(file).find("Target-1") != std::string::npos)
      CHECK(byConnectivity == 65);
  }
  CHECK(total == 622);
  CHECK(mapped == 620);
}

TEST_CASE("real data: the Drug Repurposing Hub's unparsable SMILES are reported with their rows") {
  SKIP_WITHOUT_SHARED_DATA("lincs_metadata");
  CsvTable t;
  REQUIRE(readCsv((shared / "lincs_metadata/repurposing_info.tsv").string(), t, '\t').isOk());
  REQUIRE(t.rows.size() == 13553);
  int col = t.column("smiles");
  REQUIRE(col >= 0);
  std::vector<std::string> smiles, where;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    smiles.push_back(t.rows[r][size_t(col)]);
    where.push_back(t.where(r));
  }
  std::vector<float> bits;
  std::vector<char> valid;
  std::vector<std::string> invalid;
  // `invalid = "error"`: the first bad row, with its line and RDKit's reason.
  Status s = morganFingerprints(smiles, where, {}, false, bits, valid, invalid);
  const std::string file = (shared / "lincs_metadata/repurposing_info.tsv").string();
  CHECK(s.message().rfind(file + ":383: not a valid SMILES `", 0) == 0);
  // `invalid = "drop"`: all of them (32 with RDKit 2022.09: CXSMILES
  // extensions it cannot read, as Python's Chem.MolFromSmiles also refuses).
  REQUIRE(morganFingerprints(smiles, where, {}, true, bits, valid, invalid).isOk());
  CHECK(invalid.size() == 32);
  CHECK(std::count(valid.begin(), valid.end(), 0) == 32);
  REQUIRE(!invalid.empty());
  CHECK(invalid.front().rfind(file + ":383: ", 0) == 0);
  CHECK(invalid.back().rfind(file + ":13387: ", 0) == 0);
  for (size_t r = 0; r < smiles.size(); ++r)
    if (!valid[r])
      for (int b = 0; b < 1024; ++b)
        REQUIRE(bits[r * 1024 + size_t(b)] == 0);
}

TEST_CASE("knowledge graph: merged sources give W by the strongest edge, and the normalised Laplacian") {
  fs::path d = scratch("kg");
  writeText(d / "links.txt", "protein1 protein2 combined_score\n9606.P1 9606.P2 900\n9606.P2 9606.P3 500\n"
                             "9606.P1 9606.P3 150\n");
  writeText(d / "info.txt", "#string_protein_id\tpreferred_name\tprotein_size\tannotation\n"
                            "9606.P1\tA\t100\tx\n9606.P2\tB\t100\tx\n9606.P3\tC\t100\tx\n9606.P4\tD\t100\tx\n");
  writeText(d / "pairs.csv", "entity1,entity2\nA,B\n");
  KnowledgeGraph string, pairs;
  REQUIRE(readStringLinks((d / "links.txt").string(), 400, (d / "info.txt").string(), string).isOk());
  CHECK(string.edges.size() == 2); // 150 < 400
  CHECK(string.nodes.count("D"));  // in the info file, without an edge
  REQUIRE(readGenePairs((d / "pairs.csv").string(), pairs).isOk());
  string.merge(pairs);
  // Perturbations: siA, siB, siC, a second siA, one for D (no edge), one for an unknown gene.
  std::vector<std::string> names = {"siA", "siB", "siC", "siA2", "siD", "siX"};
  PerturbationGraph g = perturbationGraph(string, {{"A"}, {"B"}, {"C"}, {"A"}, {"D"}, {"X"}});
  CHECK(g.at(0, 1) == 1.0f);  // max(0.9 STRING, 1 pairs)
  CHECK(g.at(1, 2) == 0.5f);
  CHECK(g.at(0, 2) == 0.0f);
  CHECK(g.at(0, 3) == 1.0f);  // the same gene
  CHECK(g.at(3, 1) == 1.0f);
  CHECK(g.at(0, 0) == 0.0f);
  CHECK(g.mapped == 5);       // D is a node, X is not
  CHECK(g.unmapped == std::vector<int64_t>{5});
  CHECK(g.pairs == 4);
  CHECK(coverageReport(g, names) ==
        "mapped 5 of 6 perturbations (83.3%), 4 weighted pairs; 1 without a node in the graph: siX");
  std::vector<float> L = normalizedLaplacian(g);
  // Degrees: siA 2, siB 2.5, siC 0.5, siA2 2; D and X isolated.
  auto l = [&](int i, int j) { return L[size_t(i * 6 + j)]; };
  CHECK(l(0, 0) == doctest::Approx(1.0));
  CHECK(l(0, 1) == doctest::Approx(-1.0 / std::sqrt(2.0 * 2.5)));
  CHECK(l(1, 2) == doctest::Approx(-0.5 / std::sqrt(2.5 * 0.5)));
  CHECK(l(4, 4) == doctest::Approx(1.0));
  CHECK(l(4, 0) == 0.0f);
  // Errors name the file and line.
  writeText(d / "bad.txt", "protein1 protein2 combined_score\n9606.P1 9606.P2 high\n");
  CHECK(readStringLinks((d / "bad.txt").string(), 0, "", string).message() ==
        (d / "bad.txt").string() + ":2: combined_score `high` is not an integer in [0, 1000]");
  writeText(d / "unknown.txt", "protein1 protein2 combined_score\n9606.P1 9606.P9 800\n");
  CHECK(readStringLinks((d / "unknown.txt").string(), 0, (d / "info.txt").string(), string).message() ==
        (d / "unknown.txt").string() + ":2: protein `9606.P9` is not in " + (d / "info.txt").string());
}

// --- transcriptomes -----------------------------------------------------------

TEST_CASE("real data: the scVI cell-line table maps onto RxRx1's cell types") {
  SKIP_WITHOUT_SHARED_DATA("cell_line_context");
  EmbeddingTable scvi;
  REQUIRE(readEmbeddingTable((shared / "cell_line_context/scvi_cellline_embedding_d256.csv").string(), scvi).isOk());
  CHECK(scvi.names.size() == 55);
  CHECK(scvi.dim == 256);
  // RxRx1's four cell types, and those of the real U2OS site table.
  std::vector<int64_t> rows;
  REQUIRE(mapNames({"HEPG2", "HUVEC", "RPE", "U2OS"}, scvi, "scVI table", rows).isOk());
  for (int64_t r : rows)
    CHECK(r >= 0);
  CsvTable sites;
  REQUIRE(readCsv((shared / "cell_line_context/rxrx1_u2os_site_metadata.csv").string(), sites).isOk());
  std::set<std::string> types;
  for (const auto &row : sites.rows)
    types.insert(row[size_t(sites.column("cell_type"))]);
  REQUIRE(mapNames(std::vector<std::string>(types.begin(), types.end()), scvi, "scVI table", rows).isOk());
  CHECK(scvi.names[size_t(rows[0])] == "U2OS");
  // Spelling variants match; unknown names are listed.
  REQUIRE(mapNames({"HepG2", "hs5"}, scvi, "scVI table", rows).isOk());
  CHECK(scvi.names[size_t(rows[0])] == "HEPG2");
  CHECK(scvi.names[size_t(rows[1])] == "Hs-5");
  Status s = mapNames({"U2OS", "HeLa", "Jurkat"}, scvi, "scVI table", rows);
  CHECK(s.message().rfind("scVI table: 2 of 3 names have no row: `HeLa`, `Jurkat` (the table has 55 rows: A549", 0) ==
        0);
}

TEST_CASE("transcriptome: pseudo-bulk, log-normalisation and PCA from .h5ad, dense and sparse alike") {
  // Three cell lines, two cells each, four genes.
  AnnData a;
  a.obs = 6;
  a.vars = 4;
  a.dense = {1, 0, 3, 0, /**/ 1, 2, 1, 0, /**/ 0, 5, 0, 5, /**/ 0, 5, 0, 0, /**/ 2, 2, 2, 2, /**/ 0, 0, 0, 8};
  for (int i = 0; i < 6; ++i)
    a.obsNames.push_back("cell" + std::to_string(i));
  a.varNames = {"G1", "G2", "G3", "G4"};
  a.obsColumns = {{"cell_line", {"L1", "L1", "L2", "L2", "L3", "L3"}}};
  AnnData sparse = a;
  sparse.sparse = true;
  sparse.dense.clear();
  sparse.indptr = {0};
  for (int i = 0; i < 6; ++i) {
    for (int g = 0; g < 4; ++g)
      if (float v = a.dense[size_t(i * 4 + g)]; v != 0) {
        sparse.data.push_back(v);
        sparse.indices.push_back(g);
      }
    sparse.indptr.push_back(static_cast<int64_t>(sparse.data.size()));
  }
  fs::path d = scratch("h5ad");
  REQUIRE(writeH5ad((d / "sparse.h5ad").string(), sparse).isOk());
  AnnData back;
  REQUIRE(readH5ad((d / "sparse.h5ad").string(), back).isOk());
  EmbeddingTable fromDense, fromSparse;
  REQUIRE(pseudoBulk(a, "cell_line", fromDense).isOk());
  REQUIRE(pseudoBulk(back, "cell_line", fromSparse).isOk());
  CHECK(fromDense.names == std::vector<std::string>{"L1", "L2", "L3"});
  CHECK(fromDense.values == fromSparse.values);
  // L1: counts 2, 2, 4, 0 of 8 -> log1p(1e4 * c / 8).
  CHECK(fromDense.row(0)[0] == doctest::Approx(std::log1p(2500.0)));
  CHECK(fromDense.row(0)[2] == doctest::Approx(std::log1p(5000.0)));
  CHECK(fromDense.row(0)[3] == 0.0f);
  CHECK(pseudoBulk(a, "donor", fromDense).message() == "no obs column `donor` (the file has cell_line)");

  // PCA: three rows have rank <= 2, so the third component is 0; the first
  // two reproduce the centred rows' distances.
  EmbeddingTable reduced;
  REQUIRE(reduceTable(fromSparse, 3, true, reduced).isOk());
  CHECK(reduced.dim == 3);
  for (int r = 0; r < 3; ++r)
    CHECK(reduced.row(size_t(r))[2] == doctest::Approx(0.0).epsilon(1e-5));
  auto dist = [](const float *x, const float *y, int64_t n) {
    double s = 0;
    for (int64_t k = 0; k < n; ++k)
      s += (x[k] - y[k]) * (x[k] - y[k]);
    return std::sqrt(s);
  };
  CHECK(dist(reduced.row(0), reduced.row(1), 3) ==
        doctest::Approx(dist(fromSparse.row(0), fromSparse.row(1), 4)).epsilon(1e-4));
  // The most variable genes, in order of variance; too few is an error.
  REQUIRE(reduceTable(fromSparse, 2, false, reduced).isOk());
  CHECK(reduced.dim == 2);
  CHECK(reduceTable(fromSparse, 5, false, reduced).message().find("4 genes, fewer than `dim` = 5") !=
        std::string::npos);
}

TEST_CASE("transcriptome: embedding tables refuse non-numbers and repeated names with file and line") {
  fs::path d = scratch("table");
  writeText(d / "t.csv", "cell_line,z0,z1\nA,1,2\nB,3,x\n");
  EmbeddingTable t;
  CHECK(readEmbeddingTable((d / "t.csv").string(), t).message() ==
        (d / "t.csv").string() + ":3: column `z1` is `x`, not a number");
  writeText(d / "t.csv", "cell_line,z0\nA,1\nA,2\n");
  CHECK(readEmbeddingTable((d / "t.csv").string(), t).message() ==
        (d / "t.csv").string() + ":3: `A` is named twice (also at line 2)");
}

// --- text -----------------------------------------------------------------------

TEST_CASE("text: WordPiece ids match hand-checked tokenisations") {
  fs::path d = scratch("vocab");
  // ids:             0      1      2      3      4      5        6        7    8      9
  const char *vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\ncells\ntreated\nwith\nu2\n##os\nasp\n"
                      // 10       11  12  13   14      15     16    17     18   19
                      "##irin\n.\n,\n##s\ncell\nknock\n##out\nof\ntp\n##53\n"
                      // 20   21     22    23   24
                      "-\nnaive\ncafe\n(\n)\n";
  writeText(d / "vocab.txt", vocab);
  WordPieceVocab v;
  REQUIRE(readVocab((d / "vocab.txt").string(), v).isOk());
  CHECK(v.pad == 0);
  CHECK(v.unk == 1);
  auto ids = [&](const std::string &text, int64_t length) { return encodeText(v, text, length); };
  // Lower-cased, split on punctuation, greedy longest match with ## pieces.
  CHECK(ids("U2OS cells treated with Aspirin.", 10) == std::vector<int64_t>{2, 7, 8, 4, 5, 6, 9, 10, 11, 3});
  CHECK(wordPieces(v, "U2OS cells treated with Aspirin.") ==
        std::vector<std::string>{"u2", "##os", "cells", "treated", "with", "asp", "##irin", "."});
  // A word that cannot be covered is one [UNK]; padding fills the rest.
  CHECK(ids("knockout of TP53, zebrafish", 12) == std::vector<int64_t>{2, 15, 16, 17, 18, 19, 12, 1, 3, 0, 0, 0});
  // Accents stripped (naïve café), hyphens and brackets are punctuation.
  CHECK(ids("Naïve café (TP53-knockout)", 12) == std::vector<int64_t>{2, 21, 22, 23, 18, 19, 20, 15, 16, 24, 3, 0});
  // Truncation keeps [SEP] last and says so.
  bool truncated = false;
  CHECK(encodeText(v, "cells treated with aspirin", 5, true, &truncated) == std::vector<int64_t>{2, 4, 5, 6, 3});
  CHECK(truncated);
  encodeText(v, "cells", 5, true, &truncated);
  CHECK(!truncated);
  // Whitespace of every kind separates; control characters vanish.
  CHECK(wordPieces(v, "cells\ttreated\n\x01with") == std::vector<std::string>{"cells", "treated", "with"});
  // A word over 100 characters is [UNK].
  CHECK(wordPieces(v, std::string(101, 'a')) == std::vector<std::string>{"[UNK]"});
  // A vocabulary without [UNK], or with a token twice, names the line.
  writeText(d / "bad.txt", "[PAD]\n[CLS]\n[SEP]\ncells\n");
  CHECK(readVocab((d / "bad.txt").string(), v).message() ==
        (d / "bad.txt").string() + ": no [UNK] token (a BERT vocab.txt has it)");
  writeText(d / "bad.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\ncells\ncells\n");
  CHECK(readVocab((d / "bad.txt").string(), v).message() ==
        (d / "bad.txt").string() + ":6: token `cells` given twice (also line 5)");
}

TEST_CASE("text: CellCLIP's prompts from templates over metadata, then WordPiece") {
  const std::map<std::string, std::vector<std::string>> columns = {
      {"cell_type", {"U2OS", "U2OS"}},
      {"name", {"aspirin", ""}},
      {"smiles", {"CC(=O)Oc1ccccc1C(=O)O", ""}},
      {"gene", {"", "TP53"}}};
  std::string out;
  REQUIRE(renderTemplate("{cell_type} cells treated with compound: {name}, SMILES: {smiles}", columns, 0, out)
              .isOk());
  CHECK(out == "U2OS cells treated with compound: aspirin, SMILES: CC(=O)Oc1ccccc1C(=O)O");
  REQUIRE(renderTemplate("{cell_type} cells treated with orf, targeting genes: {gene}", columns, 1, out).isOk());
  CHECK(out == "U2OS cells treated with orf, targeting genes: TP53");
  REQUIRE(renderTemplate("{{literal}} {gene}}}", columns, 1, out).isOk());
  CHECK(out == "{literal} TP53}");
  CHECK(renderTemplate("{compound_name}", columns, 0, out).message() ==
        "template `{compound_name}`: no column `compound_name` (the data has cell_type, gene, name, smiles)");
  CHECK(renderTemplate("cells {gene", columns, 0, out).message() == "template `cells {gene`: the `{` at 7 is not closed");
  CHECK(renderTemplate("a } b", columns, 0, out).message().find("closes nothing") != std::string::npos);
}

TEST_CASE("text: a template's columns, in order, braces escaped") {
  CHECK(templateColumns("{cell_type} cells {{not}} treated with {gene}, {cell_type}") ==
        std::vector<std::string>{"cell_type", "gene"});
  CHECK(templateColumns("no placeholders {{here}}").empty());
}

TEST_CASE("text: the simulated screen's vocabulary covers any ASCII prompt without [UNK]") {
  fs::path d = scratch("vocab");
  const nlohmann::json params = {{"seed", 1},      {"plates", 2},       {"holdout_plates", 1},
                                 {"perturbations", 4}, {"compounds", 4}, {"replicates", 1},
                                 {"controls", 1},  {"sites", 1},        {"image_size", 16},
                                 {"format", "jump"}};
  REQUIRE(writeSimulatedScreenDir(params, (d / "screen").string()).isOk());
  WordPieceVocab v;
  REQUIRE(readVocab((d / "screen" / "side" / "vocab.txt").string(), v).isOk());
  CHECK(v.tokens.size() < 512);
  for (const char *prompt : {"SIMA cells treated with compound: JCP2022_900003, SMILES: CC(=O)Nc1ccc(O)cc1[N+](=O)[O-]",
                             "odd ~`|\\ text 123 #$% ^&* <>?/ {}[] \"quoted\""}) {
    std::vector<int64_t> ids = encodeText(v, prompt, 128, false);
    CHECK(std::count(ids.begin(), ids.end(), v.unk) == 0);
  }
  // Prompt words and the screen's names are whole tokens.
  CHECK(wordPieces(v, "SIMA cells treated with", false) == std::vector<std::string>{"SIMA", "cells", "treated", "with"});
  fs::remove_all(d);
}

TEST_CASE("knowledge graph: the spectral embedding puts a module's perturbations together") {
  // Two modules (triangles) and a perturbation without edges.
  KnowledgeGraph kg;
  for (auto [a, b] : {std::pair{"A", "B"}, {"B", "C"}, {"A", "C"}, {"D", "E"}, {"E", "F"}, {"D", "F"}}) {
    kg.edges.push_back({a, b, 1.0f});
    kg.nodes.insert(a);
    kg.nodes.insert(b);
  }
  kg.nodes.insert("G");
  PerturbationGraph g = perturbationGraph(kg, {{"A"}, {"B"}, {"C"}, {"D"}, {"E"}, {"F"}, {"G"}});
  std::vector<float> e;
  REQUIRE(spectralEmbedding(g, 3, e).isOk());
  REQUIRE(e.size() == 21);
  auto dist = [&](int i, int j) {
    double s = 0;
    for (int k = 0; k < 3; ++k)
      s += (e[size_t(i * 3 + k)] - e[size_t(j * 3 + k)]) * (e[size_t(i * 3 + k)] - e[size_t(j * 3 + k)]);
    return std::sqrt(s);
  };
  CHECK(dist(0, 1) < 1e-4);
  CHECK(dist(3, 5) < 1e-4);
  CHECK(dist(0, 3) > 0.5);
  CHECK(dist(0, 6) > 0.5);
  CHECK(dist(3, 6) > 0.5);
  CHECK(spectralEmbedding(g, 8, e).message() == "a spectral embedding of 7 perturbations cannot have 8 dimensions");
}
