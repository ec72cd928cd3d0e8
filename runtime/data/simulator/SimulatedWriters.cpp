// The simulated screen written in real on-disk formats (docs/data.md): RxRx1's
// metadata.csv and 8-bit PNG tree, or JUMP's metadata tables, per-plate
// load_data CSVs and 16-bit TIFFs; each with ground_truth.json.
#include "data/simulator/SimulatedRender.h"
#include "features/Features.h"
#include "data/simulator/SimulatedScreen.h"
#include "data/Random.h"
#include "prep/Csv.h"
#include "prep/Archive.h"
#include "prep/H5ad.h"
#include "prep/Jpeg2000.h"
#include "prep/Image.h"
#include "prep/Readers.h"
#include "record/Json.h"

#include <torch/torch.h>

#include <cstdio>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <random>
#include <set>

namespace exprt {
namespace fs = std::filesystem;

namespace {

// A well's name on a plate of `wells` (96, 384 or 1536) in row-major order:
// B02, P24, AF48.
std::string wellName(int64_t index, int64_t wells) {
  const int64_t columns = wells <= 96 ? 12 : wells <= 384 ? 24 : 48;
  int64_t row = index / columns, col = index % columns + 1;
  std::string name = row < 26 ? std::string(1, char('A' + row))
                              : std::string("A") + char('A' + row - 26); // AA, AB, ... (1536 plates)
  return name + (col < 10 ? "0" : "") + std::to_string(col);
}

std::string format(const char *fmt, long long v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// What a layout cannot hold, refused before anything is rendered.
Status checkLayout(const Params &p, const std::string &layout) {
  const int64_t wells = p.perturbations * p.replicates + p.controls;
  if (wells > 1536)
    return Status::error(ErrorKind::PlanInvalid, "simulated_screen: " + std::to_string(wells) +
                         " wells per plate (perturbations x replicates + controls) do not fit a "
                         "1536-well plate");
  if (layout == "rxrx1" && p.compounds > 0)
    return Status::error(ErrorKind::PlanInvalid, "simulated_screen: RxRx1's layout holds siRNAs only; write compounds in "
                         "JUMP's (format = \"jump\")");
  if (layout == "jump" && p.cellLines > 1)
    return Status::error(ErrorKind::PlanInvalid, "simulated_screen: JUMP's layout holds one cell line; write several in "
                         "RxRx1's (format = \"rxrx1\")");
  if (layout == "rxrx3_core" && p.channels != 6)
    return Status::error(ErrorKind::PlanInvalid, "simulated_screen: RxRx3-core's layout has 6 channels; asked for " +
                         std::to_string(p.channels));
  if (layout == "rxrx3_core" && p.sites != 1)
    return Status::error(ErrorKind::PlanInvalid, "simulated_screen: RxRx3-core's layout has one site per well; asked for " +
                         std::to_string(p.sites));
  return Status::ok();
}

// Checks that `layout` holds the screen, then renders it; `plateWells` is
// the standard plate its wells fit.
Status renderForDisk(const nlohmann::json &json, const std::string &layout, Rendered &r, int64_t &plateWells) {
  Params p;
  if (Status s = readParams(json, p); !s)
    return s;
  if (Status s = checkLayout(p, layout); !s)
    return s;
  if (Status s = render(json, r); !s)
    return s;
  plateWells = r.wellsPerPlate <= 96 ? 96 : r.wellsPerPlate <= 384 ? 384 : 1536;
  return Status::ok();
}

// Recursion's layouts put four plates of a cell line in an experiment (the
// batch level): site `i`'s experiment, named for its line and numbered with
// `number` (RxRx1: SIMA-01; RxRx3-core: sima-001), and its plate's number.
std::pair<std::string, std::string> experimentPlate(const Rendered &r, size_t i, const char *number) {
  const int64_t j = r.plateOf[i] / r.p.cellLines; // the line's j-th plate
  return {r.bio.lines[r.lineOf[i]].name + format(number, j / 4 + 1), std::to_string(j % 4 + 1)};
}

Status makeDirectory(const fs::path &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return ec ? Status::error(ErrorKind::OutputUnwritable, dir.string() + ": cannot create: " + ec.message()) : Status::ok();
}

// One channel plane of site `i`, quantised to `bits`: raw intensities over
// [-0.25, 2.75) map linearly onto the full range, so background, noise and
// the brightest nuclei all keep their levels.
Image plane(const Rendered &r, size_t i, int64_t c, int bits) {
  const int64_t S = r.p.size;
  const double top = bits == 8 ? 255.0 : 65535.0;
  torch::Tensor v = r.images[static_cast<int64_t>(i)][c].add(0.25).mul(top / 3.0).round_().clamp_(0, top);
  Image img;
  img.width = img.height = S;
  img.channels = 1;
  img.bits = bits;
  if (bits == 8) {
    torch::Tensor q = v.to(torch::kUInt8).contiguous();
    img.data.assign(q.data_ptr<uint8_t>(), q.data_ptr<uint8_t>() + S * S);
  } else {
    torch::Tensor q = v.to(torch::kInt32).contiguous();
    img.data.resize(static_cast<size_t>(S * S * 2));
    auto *out = reinterpret_cast<uint16_t *>(img.data.data());
    for (int64_t k = 0; k < S * S; ++k)
      out[k] = static_cast<uint16_t>(q.data_ptr<int32_t>()[k]);
  }
  return img;
}

// Single-cell RNA counts of each line (the .h5ad a transcriptome study
// publishes): cells drawn from the line's expression with a per-cell
// library size, as CSR counts over the screen's genes and background genes.
Status writeCellLineCounts(const Rendered &r, const fs::path &path) {
  const Biology &bio = r.bio;
  constexpr int64_t kCellsPerLine = 40;
  std::mt19937_64 rng(splitmix64(r.p.seed, "transcriptome"));
  std::normal_distribution<double> n01(0.0, 1.0);
  AnnData a;
  for (const SimGene &g : bio.genes)
    a.varNames.push_back(g.symbol);
  a.varNames.insert(a.varNames.end(), bio.backgroundGenes.begin(), bio.backgroundGenes.end());
  a.vars = static_cast<int64_t>(a.varNames.size());
  a.obs = kCellsPerLine * static_cast<int64_t>(bio.lines.size());
  a.sparse = true;
  a.indptr.push_back(0);
  std::vector<std::string> lineOf;
  for (size_t l = 0; l < bio.lines.size(); ++l)
    for (int64_t c = 0; c < kCellsPerLine; ++c) {
      a.obsNames.push_back(bio.lines[l].name + format("-c%03lld", c + 1));
      lineOf.push_back(bio.lines[l].name);
      const double library = std::exp(0.3 * n01(rng));
      for (int64_t g = 0; g < a.vars; ++g) {
        std::poisson_distribution<int> counts(library * std::exp(bio.logExpression[l * a.vars + g]));
        if (int n = counts(rng); n > 0) {
          a.data.push_back(static_cast<float>(n));
          a.indices.push_back(static_cast<int32_t>(g));
        }
      }
      a.indptr.push_back(static_cast<int64_t>(a.data.size()));
    }
  a.obsColumns.emplace_back("cell_line", std::move(lineOf));
  return writeH5ad(path.string(), a);
}

// A WordPiece vocabulary (BERT's vocab.txt format) for text side
// information over this screen: the special tokens, every printable ASCII
// character alone and as a `##` continuation (so any ASCII prompt is
// covered), words prompts are made of, and the screen's own names (genes,
// compounds, cell lines) as whole words. A real study uses its text
// encoder's vocabulary (bert-base-cased's vocab.txt).
std::string vocabulary(const Biology &bio) {
  std::vector<std::string> tokens{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (char c = '!'; c <= '~'; ++c)
    tokens.emplace_back(1, c);
  for (char c = '!'; c <= '~'; ++c)
    if (std::isalnum(static_cast<unsigned char>(c)))
      tokens.push_back(std::string("##") + c);
  for (const char *w : {"cells", "cell", "treated", "with", "compound", "crispr", "sequence", "targeting", "genes",
                        "gene", "orf", "siRNA", "knockdown", "control", "SMILES", "of", "and", "the", "a", "an", "in"})
    tokens.emplace_back(w);
  for (const SimGene &g : bio.genes)
    tokens.push_back(g.symbol);
  for (const SimCompound &c : bio.compounds)
    tokens.push_back(c.name);
  for (const SimCellLine &l : bio.lines)
    tokens.push_back(l.name);
  std::string text;
  std::set<std::string> seen;
  for (const std::string &t : tokens)
    if (seen.insert(t).second)
      text += t + "\n";
  return text;
}

// The side information a real study brings from elsewhere, in its real
// formats under side/: STRING protein.links and protein.info, Hetionet
// nodes and edges (genes, the modules as pathways, compounds and their
// targets), and the cell lines' transcriptomes: single-cell counts (.h5ad)
// and an embedding table; a WordPiece vocabulary for prompts.
Status writeSide(const Rendered &r, const fs::path &dir) {
  const Biology &bio = r.bio;
  if (Status s = makeDirectory(dir / "side"); !s)
    return s;
  std::string links = "protein1 protein2 combined_score\n";
  std::vector<std::string> lines;
  for (const SimEdge &e : bio.string) { // both directions, as STRING lists them
    lines.push_back(bio.genes[e.a].protein + " " + bio.genes[e.b].protein + " " + std::to_string(e.score));
    lines.push_back(bio.genes[e.b].protein + " " + bio.genes[e.a].protein + " " + std::to_string(e.score));
  }
  std::sort(lines.begin(), lines.end());
  for (const std::string &l : lines)
    links += l + "\n";
  if (Status s = writeTextFile((dir / "side" / "string.protein.links.txt.gz").string(), links); !s)
    return s;
  std::vector<std::vector<std::string>> info, nodes, edges;
  for (const SimGene &g : bio.genes) {
    info.push_back({g.protein, g.symbol, "400", "simulated protein"});
    nodes.push_back({"Gene::" + std::to_string(g.entrez), g.symbol, "Gene"});
    edges.push_back({"Gene::" + std::to_string(g.entrez), "GpPW", format("Pathway::SIM_PW%02lld", g.module + 1)});
  }
  for (int64_t m = 0; m < r.p.modules; ++m)
    nodes.push_back({format("Pathway::SIM_PW%02lld", m + 1), format("simulated module %lld", m + 1), "Pathway"});
  for (const SimEdge &e : bio.hetionet)
    edges.push_back({"Gene::" + std::to_string(bio.genes[e.a].entrez), "GiG",
                     "Gene::" + std::to_string(bio.genes[e.b].entrez)});
  for (size_t c = 0; c < bio.compounds.size(); ++c) {
    const SimCompound &cpd = bio.compounds[c];
    const std::string id = format("Compound::SIMDB%05lld", static_cast<long long>(c + 1));
    nodes.push_back({id, cpd.name, "Compound"});
    if (cpd.target >= 0)
      edges.push_back({id, "CbG", "Gene::" + std::to_string(bio.genes[cpd.target].entrez)});
  }
  if (Status s = writeCsv((dir / "side" / "string.protein.info.txt.gz").string(),
                          {"#string_protein_id", "preferred_name", "protein_size", "annotation"}, info, '\t');
      !s)
    return s;
  if (Status s = writeCsv((dir / "side" / "hetionet-nodes.tsv").string(), {"id", "name", "kind"}, nodes, '\t'); !s)
    return s;
  if (Status s = writeCsv((dir / "side" / "hetionet-edges.sif.gz").string(), {"source", "metaedge", "target"},
                          edges, '\t');
      !s)
    return s;
  std::vector<std::string> header{"cell_line"};
  for (size_t d = 0; d < bio.lines.front().embedding.size(); ++d)
    header.push_back("z" + std::to_string(d));
  std::vector<std::vector<std::string>> table;
  for (const SimCellLine &line : bio.lines) {
    table.push_back({line.name});
    for (double z : line.embedding)
      table.back().push_back(std::to_string(z));
  }
  if (Status s = writeCsv((dir / "side" / "cell_lines.csv").string(), header, table); !s)
    return s;
  if (Status s = writeTextFile((dir / "side" / "vocab.txt").string(), vocabulary(bio)); !s)
    return s;
  // A runtime built without HDF5 writes the rest; a plan that reads the
  // counts is then refused at the read, naming EXP_WITH_HDF5.
  if (!built(BuildFeature::Hdf5))
    return Status::ok();
  return writeCellLineCounts(r, dir / "side" / "cell_lines.h5ad");
}

// The ground truth the images were rendered from; `names[k]` is how the
// format names perturbation k.
Status writeTruth(const nlohmann::json &json, const Rendered &r, const std::vector<std::string> &names,
                  const fs::path &dir) {
  if (Status s = writeSide(r, dir); !s)
    return s;
  const Biology &bio = r.bio;
  nlohmann::json truth = {{"format", "exp-simulated-truth"},
                          {"version", 2},
                          {"params", json},
                          {"features", std::vector<std::string>(kFeatureNames, kFeatureNames + kFeatures)}};
  nlohmann::json effects = nlohmann::json::object(), modules = nlohmann::json::object(),
                 perturbations = nlohmann::json::object();
  const int64_t knockdowns = r.p.perturbations - r.p.compounds, K = r.p.perturbations + 1;
  for (int64_t k = 0; k < K; ++k) {
    effects[names[k]] = std::vector<double>(r.effects.begin() + k * kFeatures,
                                            r.effects.begin() + (k + 1) * kFeatures);
    if (k == 0)
      continue;
    modules[names[k]] = r.module[k];
    nlohmann::json what = k <= knockdowns
                              ? nlohmann::json{{"kind", "knockdown"}, {"gene", bio.genes[k - 1].symbol}}
                              : nlohmann::json{{"kind", "compound"},
                                               {"compound", bio.compounds[k - 1 - knockdowns].name}};
    nlohmann::json response = nlohmann::json::object();
    for (size_t l = 0; l < bio.lines.size(); ++l)
      response[bio.lines[l].name] = bio.response[l * K + k];
    what["response"] = response;
    perturbations[names[k]] = what;
  }
  truth["effects"] = effects;
  truth["modules"] = modules;
  truth["perturbations"] = perturbations;
  nlohmann::json genes = nlohmann::json::array(), compounds = nlohmann::json::array(),
                 lines = nlohmann::json::array();
  for (const SimGene &g : bio.genes)
    genes.push_back({{"symbol", g.symbol}, {"module", g.module}, {"string_id", g.protein}, {"entrez", g.entrez}});
  for (const SimCompound &c : bio.compounds)
    compounds.push_back({{"name", c.name},
                         {"smiles", c.smiles},
                         {"scaffold", c.scaffold},
                         {"module", c.module},
                         {"target", c.target < 0 ? nlohmann::json() : nlohmann::json(bio.genes[c.target].symbol)}});
  for (const SimCellLine &l : bio.lines)
    lines.push_back({{"name", l.name},
                     {"base", std::vector<double>(l.base.begin(), l.base.end())},
                     {"embedding", l.embedding}});
  truth["genes"] = genes;
  truth["compounds"] = compounds;
  truth["cell_lines"] = lines;
  truth["side"] = {{"string_links", "side/string.protein.links.txt.gz"},
                   {"string_info", "side/string.protein.info.txt.gz"},
                   {"hetionet_nodes", "side/hetionet-nodes.tsv"},
                   {"hetionet_edges", "side/hetionet-edges.sif.gz"},
                   {"cell_line_embeddings", "side/cell_lines.csv"},
                   {"cell_line_counts", "side/cell_lines.h5ad"},
                   {"vocab", "side/vocab.txt"}};
  return writeFileAtomic((dir / "ground_truth.json").string(), truth.dump(1) + "\n");
}

} // namespace

Status writeSimulatedScreen(const nlohmann::json &json, const std::string &dir) {
  Rendered r;
  int64_t plateWells = 0;
  if (Status s = renderForDisk(json, "rxrx1", r, plateWells); !s)
    return s;
  const Params &p = r.p;
  // siRNAs are named for their gene, as side/sirna_genes.csv maps them.
  std::vector<std::string> names{"EMPTY"};
  std::vector<std::vector<std::string>> sirnaGenes;
  for (int64_t k = 1; k <= p.perturbations; ++k) {
    names.push_back("si-" + r.bio.genes[k - 1].symbol);
    sirnaGenes.push_back({names.back(), r.bio.genes[k - 1].symbol});
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < r.pert.size(); ++i) {
    const std::string &cellType = r.bio.lines[r.lineOf[i]].name;
    auto [experiment, plate] = experimentPlate(r, i, "-%02lld");
    std::string well = wellName(r.wellInPlate[i], plateWells), site = std::to_string(r.siteInWell[i] + 1);
    bool control = r.pert[i] == 0;
    std::string wellId = experiment + "_" + plate + "_" + well;
    rows.push_back({wellId + "_" + site, wellId, cellType, r.heldOut[i] ? "test" : "train", experiment,
                    plate, well, site, control ? "negative_control" : "treatment", names[r.pert[i]],
                    std::to_string(control ? p.perturbations : r.pert[i] - 1)});
    fs::path folder = fs::path(dir) / "images" / experiment / ("Plate" + plate);
    if (Status s = makeDirectory(folder); !s)
      return s;
    for (int64_t c = 0; c < p.channels; ++c) {
      std::string name = well + "_s" + site + "_w" + std::to_string(c + 1) + ".png";
      if (Status s = writePng((folder / name).string(), plane(r, i, c, 8)); !s)
        return s;
    }
  }
  if (Status s = writeCsv((fs::path(dir) / "metadata.csv").string(),
                          {"site_id", "well_id", "cell_type", "dataset", "experiment", "plate", "well",
                           "site", "well_type", "sirna", "sirna_id"},
                          rows);
      !s)
    return s;
  if (Status s = writeTruth(json, r, names, dir); !s)
    return s;
  return writeCsv((fs::path(dir) / "side" / "sirna_genes.csv").string(), {"sirna", "gene"}, sirnaGenes);
}

Status writeSimulatedScreenJump(const nlohmann::json &json, const std::string &dir) {
  Rendered r;
  int64_t plateWells = 0;
  if (Status s = renderForDisk(json, "jump", r, plateWells); !s)
    return s;
  const Params &p = r.p;
  const fs::path root(dir);
  const int64_t columns = plateWells <= 96 ? 12 : plateWells <= 384 ? 24 : 48;
  const int64_t knockdowns = p.perturbations - p.compounds;
  // JCP2022 ids: 8xxxxx for CRISPR guides, 9xxxxx for compounds.
  auto jcp = [&](int64_t k) {
    return k == 0 ? std::string(kJumpControl) : format(k <= knockdowns ? "JCP2022_8%05lld" : "JCP2022_9%05lld", k);
  };
  std::vector<std::vector<std::string>> plates, wells, splits;
  std::map<int64_t, std::vector<std::vector<std::string>>> loadData; // plate -> rows
  for (size_t i = 0; i < r.pert.size(); ++i) {
    const int64_t pl = r.plateOf[i], w = r.wellInPlate[i];
    const std::string batch = format("SIM-%02lld", pl / 4 + 1), plate = format("SIMPLATE-%02lld", pl + 1);
    const std::string well = wellName(w, plateWells), site = std::to_string(r.siteInWell[i] + 1);
    if (loadData[pl].empty()) {
      plates.push_back({"source_sim", batch, plate, p.compounds > 0 ? "COMPOUND" : "CRISPR",
                        r.bio.lines[static_cast<size_t>(pl % p.cellLines)].name});
      splits.push_back({plate, r.heldOut[i] ? "test" : "train"});
    }
    if (r.siteInWell[i] == 0)
      wells.push_back({"source_sim", plate, well, jcp(r.pert[i])});
    // Harmony's names: r{row}c{column}f{field}p{plane}-ch{channel}sk1fk1fl1.tiff
    const std::string stem = format("r%02lld", w / columns + 1) + format("c%02lld", w % columns + 1) +
                             format("f%02lld", r.siteInWell[i] + 1) + "p01-ch";
    const fs::path images = root / "images" / batch / "images" / plate;
    if (Status s = makeDirectory(images); !s)
      return s;
    std::vector<std::string> row = {plate, well, site};
    for (int64_t c = 0; c < p.channels; ++c) {
      std::string name = stem + std::to_string(c + 1) + "sk1fk1fl1.tiff";
      if (Status s = writeTiff((images / name).string(), plane(r, i, c, 16)); !s)
        return s;
      row.push_back(name);
      row.push_back("../../../images/" + batch + "/images/" + plate);
    }
    loadData[pl].push_back(std::move(row));
  }
  std::vector<std::string> header = {"Metadata_Plate", "Metadata_Well", "Metadata_Site"};
  for (int64_t c = 0; c < p.channels; ++c) {
    header.push_back("FileName_Orig" + jumpChannels()[c]);
    header.push_back("PathName_Orig" + jumpChannels()[c]);
  }
  for (const auto &[pl, rows] : loadData) {
    const fs::path folder = root / "load_data_csv" / format("SIM-%02lld", pl / 4 + 1) /
                            format("SIMPLATE-%02lld", pl + 1);
    if (Status s = makeDirectory(folder); !s)
      return s;
    if (Status s = writeCsv((folder / "load_data.csv.gz").string(), header, rows); !s)
      return s;
  }
  if (Status s = makeDirectory(root / "metadata"); !s)
    return s;
  if (Status s = writeCsv((root / "metadata" / "plate.csv.gz").string(),
                            {"Metadata_Source", "Metadata_Batch", "Metadata_Plate", "Metadata_PlateType",
                             "Metadata_CellType"},
                            plates);
      !s)
    return s;
  if (Status s = writeCsv((root / "metadata" / "well.csv.gz").string(),
                            {"Metadata_Source", "Metadata_Plate", "Metadata_Well", "Metadata_JCP2022"},
                            wells);
      !s)
    return s;
  if (Status s = writeCsv((root / "metadata" / "split.csv").string(), {"Metadata_Plate", "split"}, splits); !s)
    return s;
  // JUMP's compound table lists DMSO, the negative control, with its SMILES.
  std::vector<std::vector<std::string>> compounds = {{kJumpControl, "CS(C)=O"}}, crispr;
  for (int64_t k = 1; k <= p.perturbations; ++k)
    if (k <= knockdowns)
      crispr.push_back({jcp(k), std::to_string(r.bio.genes[k - 1].entrez), r.bio.genes[k - 1].symbol});
    else
      compounds.push_back({jcp(k), r.bio.compounds[k - 1 - knockdowns].smiles});
  if (Status s = writeCsv((root / "metadata" / "crispr.csv.gz").string(),
                          {"Metadata_JCP2022", "Metadata_NCBI_Gene_ID", "Metadata_Symbol"}, crispr);
      !s)
    return s;
  if (Status s = writeCsv((root / "metadata" / "compound.csv.gz").string(), {"Metadata_JCP2022", "Metadata_SMILES"},
                          compounds);
      !s)
    return s;
  std::vector<std::string> names;
  for (int64_t k = 0; k <= p.perturbations; ++k)
    names.push_back(jcp(k));
  return writeTruth(json, r, names, root);
}

Status writeSimulatedScreenRxrx3(const nlohmann::json &json, const std::string &dir) {
  Rendered r;
  int64_t plateWells = 0;
  if (Status s = renderForDisk(json, "rxrx3_core", r, plateWells); !s)
    return s;
  const Params &p = r.p;
  const fs::path root(dir);
  if (Status s = makeDirectory(root / "shards"); !s)
    return s;
  const int64_t knockdowns = p.perturbations - p.compounds;
  std::vector<std::string> names{"EMPTY_control"};
  for (int64_t k = 1; k <= p.perturbations; ++k)
    names.push_back(k <= knockdowns ? r.bio.genes[k - 1].symbol + "_1" : r.bio.compounds[k - 1 - knockdowns].name);
  std::vector<std::vector<std::string>> rows;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> shards; // experiment -> members
  for (size_t i = 0; i < r.pert.size(); ++i) {
    // One shard per experiment.
    const int64_t k = r.pert[i];
    const std::string &cellType = r.bio.lines[r.lineOf[i]].name;
    auto [experiment, plate] = experimentPlate(r, i, "-%03lld");
    for (char &ch : experiment)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const std::string address = wellName(r.wellInPlate[i], plateWells);
    const bool compound = k > knockdowns;
    const SimCompound *cpd = compound ? &r.bio.compounds[k - 1 - knockdowns] : nullptr;
    rows.push_back({experiment + "_" + plate + "_" + address, experiment, plate, address,
                    k == 0 ? "EMPTY_control" : compound ? "" : r.bio.genes[k - 1].symbol, names[k],
                    compound ? cpd->smiles : "", compound ? "1.0" : "", compound ? "COMPOUND" : "CRISPR", cellType,
                    r.heldOut[i] ? "test" : "train"});
    for (int64_t c = 0; c < 6; ++c) {
      std::string bytes;
      if (Status s = encodeJpeg2000(plane(r, i, c, 8), bytes); !s)
        return s;
      shards[experiment].push_back(
          {experiment + "/Plate" + plate + "/" + address + "_s1_" + std::to_string(c + 1) + ".jp2", std::move(bytes)});
    }
  }
  for (const auto &[experiment, members] : shards)
    if (Status s = writeTar((root / "shards" / (experiment + ".tar")).string(), members); !s)
      return s;
  if (Status s = writeCsv((root / "metadata_rxrx3_core.csv").string(),
                          {"well_id", "experiment_name", "plate", "address", "gene", "treatment", "SMILES",
                           "concentration", "perturbation_type", "cell_type", "split"},
                          rows);
      !s)
    return s;
  return writeTruth(json, r, names, root);
}

} // namespace exprt
