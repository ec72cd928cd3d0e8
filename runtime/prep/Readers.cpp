#include "prep/Readers.h"

#include "prep/Archive.h"
#include "prep/Csv.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <tuple>

namespace exprt {
namespace fs = std::filesystem;
namespace {

// Recursion's layout: images/{experiment}/Plate{plate}/{well}_s{site}_w{k}.png.
std::vector<std::string> rxrxFiles(const std::string &root, const std::string &experiment,
                                   const std::string &plate, const std::string &well,
                                   const std::string &site, int64_t channels) {
  fs::path dir = fs::path(root) / "images" / experiment / ("Plate" + plate);
  std::vector<std::string> files;
  for (int64_t k = 1; k <= channels; ++k)
    files.push_back((dir / (well + "_s" + site + "_w" + std::to_string(k) + ".png")).string());
  return files;
}

} // namespace

Status readRxrx1(const std::string &root, int64_t channels, SiteIndex &index) {
  index = SiteIndex();
  CsvTable t;
  if (Status s = readCsv((fs::path(root) / "metadata.csv").string(), t); !s)
    return s;
  std::vector<int> c;
  if (Status s = t.require({"experiment", "plate", "well", "site", "well_type", "sirna", "dataset",
                            "cell_type"},
                           c);
      !s)
    return s;
  enum { Experiment, Plate, Well, Site, WellType, Sirna, Dataset, CellType };
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto &row = t.rows[r];
    const std::string &wellType = row[c[WellType]];
    if (wellType != "treatment" && wellType != "negative_control" && wellType != "positive_control")
      return Status::error(ErrorKind::InputMalformed, t.where(r) + ": `well_type` is `" + wellType +
                           "`; expected treatment, negative_control or positive_control");
    const std::string &split = row[c[Dataset]];
    if (split != "train" && split != "test")
      return Status::error(ErrorKind::InputMalformed, t.where(r) + ": `dataset` is `" + split + "`; expected train or test");
    index.files.push_back(
        rxrxFiles(root, row[c[Experiment]], row[c[Plate]], row[c[Well]], row[c[Site]], channels));
    index.where.push_back(t.where(r));
    const std::string plate = row[c[Experiment]] + "/" + row[c[Plate]];
    index.add("perturbation", row[c[Sirna]]);
    index.add("control", wellType == "negative_control" ? "1" : "0");
    index.add("plate", plate);
    index.add("well", plate + "/" + row[c[Well]]);
    index.add("site", row[c[Site]]);
    index.add("batch", row[c[Experiment]]);
    index.add("plate_number", row[c[Plate]]);
    index.add("split", split);
    index.add("cell_type", row[c[CellType]]);
  }
  if (index.size() == 0)
    return Status::error(ErrorKind::InputMismatch, t.path + ": no sites");
  return Status::ok();
}

Status readRxrx3Core(const std::string &root, SiteIndex &index) {
  index = SiteIndex();
  fs::path table = fs::path(root) / "metadata_rxrx3_core.csv";
  if (!fs::exists(table) && fs::exists(table.string() + ".gz"))
    table += ".gz";
  CsvTable t;
  if (Status s = readCsv(table.string(), t); !s)
    return s;
  std::vector<int> c;
  if (Status s = t.require({"well_id", "experiment_name", "plate", "address", "gene", "treatment", "SMILES",
                            "concentration", "perturbation_type", "cell_type"},
                           c);
      !s)
    return s;
  enum { WellId, Experiment, Plate, Address, Gene, Treatment, Smiles, Concentration, Type, CellType };
  const int split = t.column("split");
  // Every shard's members by {experiment}/Plate{plate}/{file} (the last three
  // components of the member's path).
  std::map<std::string, std::string> member;
  std::vector<std::string> shards;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".tar")
      shards.push_back(it->path().string());
  std::sort(shards.begin(), shards.end());
  if (shards.empty())
    return Status::error(ErrorKind::InputUnreadable, root + ": no WebDataset shards (*.tar) under it");
  for (const std::string &shard : shards)
    if (Status s = listArchive(shard, [&](const std::string &name) {
          fs::path p(name);
          std::string key = p.parent_path().parent_path().filename().string() + "/" +
                            p.parent_path().filename().string() + "/" + p.filename().string();
          member.emplace(key, shard + kMemberSeparator + name);
        });
        !s)
      return s;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto &row = t.rows[r];
    const std::string &type = row[c[Type]];
    if (type != "CRISPR" && type != "COMPOUND")
      return Status::error(ErrorKind::InputMalformed, t.where(r) + ": `perturbation_type` is `" + type + "`; expected CRISPR or COMPOUND");
    std::vector<std::string> files;
    for (int k = 1; k <= 6; ++k) {
      std::string key = row[c[Experiment]] + "/Plate" + row[c[Plate]] + "/" + row[c[Address]] + "_s1_" +
                        std::to_string(k) + ".jp2";
      auto it = member.find(key);
      if (it == member.end())
        return Status::error(ErrorKind::InputUnreadable, t.where(r) + ": no shard under " + root + " holds `" + key + "` (channel " +
                             std::to_string(k) + ")");
      files.push_back(it->second);
    }
    index.files.push_back(std::move(files));
    index.where.push_back(t.where(r));
    const std::string &treatment = row[c[Treatment]], &gene = row[c[Gene]];
    const bool control = treatment == "EMPTY_control" || treatment == "CRISPR_control" ||
                         gene == "EMPTY_control" || gene == "CRISPR_control";
    const std::string plate = row[c[Experiment]] + "/" + row[c[Plate]];
    index.add("perturbation", control ? "control" : treatment);
    index.add("control", control ? "1" : "0");
    index.add("plate", plate);
    index.add("well", row[c[WellId]]);
    index.add("site", "1");
    index.add("batch", row[c[Experiment]]);
    index.add("gene", control ? "" : gene);
    index.add("smiles", row[c[Smiles]]);
    index.add("concentration", row[c[Concentration]]);
    index.add("perturbation_type", control ? "control" : type == "CRISPR" ? "crispr" : "compound");
    index.add("cell_type", row[c[CellType]]);
    const std::string s = split < 0 ? "train" : row[split];
    if (s != "train" && s != "test")
      return Status::error(ErrorKind::InputMalformed, t.where(r) + ": `split` is `" + s + "`; expected train or test");
    index.add("split", s);
  }
  if (index.size() == 0)
    return Status::error(ErrorKind::InputMismatch, t.path + ": no wells");
  return Status::ok();
}

Status readRxrx19a(const std::string &root, SiteIndex &index) {
  index = SiteIndex();
  CsvTable t;
  if (Status s = readCsv((fs::path(root) / "metadata.csv").string(), t); !s)
    return s;
  std::vector<int> c;
  if (Status s = t.require({"experiment", "plate", "well", "site", "disease_condition", "treatment",
                            "treatment_conc", "SMILES", "cell_type"},
                           c);
      !s)
    return s;
  enum { Experiment, Plate, Well, Site, Condition, Treatment, Conc, Smiles, CellType };
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto &row = t.rows[r];
    index.files.push_back(
        rxrxFiles(root, row[c[Experiment]], row[c[Plate]], row[c[Well]], row[c[Site]], 5));
    index.where.push_back(t.where(r));
    const std::string plate = row[c[Experiment]] + "/" + row[c[Plate]];
    const bool control = row[c[Treatment]].empty();
    index.add("perturbation", control ? "" : row[c[Treatment]] + "@" + row[c[Conc]]);
    index.add("control", control ? "1" : "0");
    index.add("plate", plate);
    index.add("well", plate + "/" + row[c[Well]]);
    index.add("site", row[c[Site]]);
    index.add("batch", row[c[Experiment]]);
    index.add("split", "train");
    index.add("cell_type", row[c[CellType]]);
    index.add("disease_condition", row[c[Condition]]);
    index.add("smiles", row[c[Smiles]]);
  }
  if (index.size() == 0)
    return Status::error(ErrorKind::InputMismatch, t.path + ": no sites");
  return Status::ok();
}

namespace {

// The sites of a load_data table `t` read from `csv` (readLoadData).
Status loadDataSites(const CsvTable &t, const std::string &csv, const std::vector<std::string> &channels,
                     int pert, SiteIndex &index) {
  std::vector<int> meta, names, paths;
  if (Status s = t.require({"Metadata_Plate", "Metadata_Well", "Metadata_Site"}, meta); !s)
    return s;
  std::vector<std::string> fileCols, pathCols;
  for (const std::string &ch : channels) {
    fileCols.push_back("FileName_Orig" + ch);
    pathCols.push_back("PathName_Orig" + ch);
  }
  if (Status s = t.require(fileCols, names); !s)
    return s;
  if (Status s = t.require(pathCols, paths); !s)
    return s;
  int batch = t.column("Metadata_Batch"), source = t.column("Metadata_Source");
  const fs::path base = fs::path(csv).parent_path();
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto &row = t.rows[r];
    std::vector<std::string> files;
    for (size_t k = 0; k < channels.size(); ++k) {
      fs::path p = fs::path(row[paths[k]]) / row[names[k]];
      files.push_back((p.is_absolute() ? p : base / p).lexically_normal().string());
    }
    index.files.push_back(std::move(files));
    index.where.push_back(t.where(r));
    const std::string plate = row[meta[0]];
    index.add("plate", plate);
    index.add("well", plate + "/" + row[meta[1]]);
    index.add("site", row[meta[2]]);
    if (batch >= 0)
      index.add("batch", row[batch]);
    if (source >= 0)
      index.add("source", row[source]);
    if (pert >= 0)
      index.add("perturbation", row[pert]);
  }
  if (index.size() == 0)
    return Status::error(ErrorKind::InputMismatch, csv + ": no sites");
  return Status::ok();
}

} // namespace

Status readLoadData(const std::string &csv, const std::vector<std::string> &channels,
                    const std::string &perturbationColumn, SiteIndex &index) {
  index = SiteIndex();
  CsvTable t;
  if (Status s = readCsv(csv, t); !s)
    return s;
  int pert = perturbationColumn.empty() ? -1 : t.column(perturbationColumn);
  if (!perturbationColumn.empty() && pert < 0)
    return Status::error(ErrorKind::InputMismatch, csv + ":1: no column `" + perturbationColumn + "` in the header");
  return loadDataSites(t, csv, channels, pert, index);
}

Status readCellPainting(const std::string &csv, int64_t channels, SiteIndex &index) {
  index = SiteIndex();
  CsvTable t;
  if (Status s = readCsv(csv, t); !s)
    return s;
  std::vector<std::string> names;
  const std::string prefix = "FileName_Orig";
  for (const std::string &h : t.header)
    if (h.rfind(prefix, 0) == 0 && names.size() < static_cast<size_t>(channels))
      names.push_back(h.substr(prefix.size()));
  if (names.size() < static_cast<size_t>(channels))
    return Status::error(ErrorKind::InputMismatch, csv + ":1: the header names " + std::to_string(names.size()) +
                         " channels (FileName_Orig... columns); the dataset declares " + std::to_string(channels));
  static const char *kPerturbation[] = {"Metadata_Perturbation", "Metadata_JCP2022",   "Metadata_broad_sample",
                                        "Metadata_pert_iname",   "Metadata_Compound", "Metadata_Treatment"};
  int pert = -1;
  for (const char *name : kPerturbation)
    if (pert < 0)
      pert = t.column(name);
  if (pert < 0) {
    std::string list;
    for (const char *name : kPerturbation)
      list += std::string(list.empty() ? "" : ", ") + name;
    return Status::error(ErrorKind::InputMismatch, csv + ":1: no perturbation column in the header (one of " + list + ")");
  }
  if (Status s = loadDataSites(t, csv, names, pert, index); !s)
    return s;
  const int controlType = t.column("Metadata_control_type"), split = t.column("Metadata_Split");
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto &row = t.rows[r];
    const std::string &p = row[pert];
    bool control = p == "DMSO" || p == kJumpControl || (controlType >= 0 && row[controlType] == "negcon");
    index.add("control", control ? "1" : "0");
    if (split >= 0) {
      const std::string &part = row[split];
      if (part != "train" && part != "val" && part != "test")
        return Status::error(ErrorKind::InputMalformed, t.where(r) + ": `Metadata_Split` is `" + part + "`; expected train, val or test");
    }
    index.add("split", split >= 0 ? row[split] : "train");
  }
  return Status::ok();
}

namespace {

// Bray 2017's split (the bray2017 source's `split` parameter): 80/10/10 train/val/test
// by a stable hash of each compound (`random`) or of its Bemis-Murcko
// scaffold (`scaffold`), so no test molecule, or scaffold, is trained on;
// DMSO sites by their own key.
Status braySplit(const std::string &how, const ScaffoldFn &scaffoldOf, SiteIndex &index) {
  std::vector<std::string> &split = index.columns.at("split");
  std::map<std::string, std::string> scaffolds;
  for (size_t i = 0; i < index.size(); ++i) {
    std::string key = index.columns.at("perturbation")[i];
    if (index.columns.at("control")[i] == "1") {
      key = index.where[i];
    } else if (how == "scaffold") {
      const std::string &smiles = index.columns.at("smiles")[i];
      auto [it, fresh] = scaffolds.emplace(smiles, "");
      if (fresh)
        if (Status s = scaffoldOf(smiles, it->second); !s)
          return s.prefixed(index.where[i] + ": ");
      key = "scaffold:" + it->second;
    }
    uint64_t h = 1469598103934665603ull; // FNV-1a: stable across machines and runs
    for (unsigned char c : key)
      h = (h ^ c) * 1099511628211ull;
    split[i] = h % 10 < 8 ? "train" : h % 10 == 8 ? "val" : "test";
  }
  return Status::ok();
}

} // namespace

Status readBray(const std::string &indexCsv, const std::string &imageDir, const std::string &split,
                SiteIndex &index, const ScaffoldFn &scaffoldOf) {
  index = SiteIndex();
  index.channelsPerFile = 5;
  CsvTable t;
  if (Status s = readCsv(indexCsv, t); !s)
    return s;
  std::vector<int> c;
  if (Status s = t.require({"SAMPLE_KEY", "PLATE_ID", "WELL_POSITION", "SITE", "SMILES", "CPD_NAME"}, c);
      !s)
    return s;
  enum { Key, Plate, Well, Site, Smiles, Name };
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto &row = t.rows[r];
    if (row[c[Key]].empty() || row[c[Key]].find('/') != std::string::npos)
      return Status::error(ErrorKind::InputMalformed, t.where(r) + ": `SAMPLE_KEY` is `" + row[c[Key]] +
                           "`; expected PLATE-WELL-SITE");
    index.files.push_back({(fs::path(imageDir) / (row[c[Key]] + ".npz")).string()});
    index.where.push_back(t.where(r));
    const bool dmso = row[c[Name]] == "DMSO" || row[c[Smiles]] == "CS(C)=O";
    index.add("perturbation", row[c[Name]].empty() ? row[c[Smiles]] : row[c[Name]]);
    index.add("control", dmso ? "1" : "0");
    index.add("plate", row[c[Plate]]);
    index.add("well", row[c[Plate]] + "/" + row[c[Well]]);
    index.add("site", row[c[Site]]);
    index.add("smiles", row[c[Smiles]]);
    index.add("split", "train");
  }
  if (split != "random" && split != "scaffold")
    return Status::error(ErrorKind::PlanInvalid, indexCsv + ": unknown split `" + split + "`; expected random or scaffold");
  if (split == "scaffold" && !scaffoldOf)
    return Status::error(ErrorKind::Internal, indexCsv + ": the scaffold split needs a scaffold function (side/Molecules.h)");
  if (index.size() == 0)
    return Status::error(ErrorKind::InputMismatch, indexCsv + ": no sites");
  return braySplit(split, scaffoldOf, index);
}

const std::vector<std::string> &jumpChannels() {
  static const std::vector<std::string> names = {"DNA",  "RNA",         "ER",      "AGP",
                                                 "Mito", "Brightfield", "HighZBF", "LowZBF"};
  return names;
}

Status readJump(const std::string &root, int64_t channels, SiteIndex &index) {
  index = SiteIndex();
  if (channels < 1 || channels > static_cast<int64_t>(jumpChannels().size()))
    return Status::error(ErrorKind::InputMismatch, root + ": JUMP has " + std::to_string(jumpChannels().size()) +
                         " channels; asked for " + std::to_string(channels));
  const fs::path meta = fs::path(root) / "metadata";
  CsvTable plates, wells, splits;
  std::vector<int> pc, wc, sc;
  if (Status s = readCsv((meta / "plate.csv.gz").string(), plates); !s)
    return s;
  if (Status s = plates.require({"Metadata_Source", "Metadata_Batch", "Metadata_Plate"}, pc); !s)
    return s;
  if (Status s = readCsv((meta / "well.csv.gz").string(), wells); !s)
    return s;
  if (Status s = wells.require({"Metadata_Plate", "Metadata_Well", "Metadata_JCP2022"}, wc); !s)
    return s;
  std::map<std::string, std::string> jcpOf, splitOf;
  for (const auto &w : wells.rows)
    jcpOf[w[wc[0]] + "/" + w[wc[1]]] = w[wc[2]];
  if (fs::exists(meta / "split.csv")) {
    if (Status s = readCsv((meta / "split.csv").string(), splits); !s)
      return s;
    if (Status s = splits.require({"Metadata_Plate", "split"}, sc); !s)
      return s;
    for (const auto &r : splits.rows)
      splitOf[r[sc[0]]] = r[sc[1]];
  }
  // What each JCP id is, from the perturbation tables present.
  struct Perturbation {
    std::string type, smiles, gene, where;
  };
  std::map<std::string, Perturbation> what;
  for (auto [file, type, column] : {std::tuple<const char *, const char *, const char *>{
                                        "compound.csv.gz", "compound", "Metadata_SMILES"},
                                    {"crispr.csv.gz", "crispr", "Metadata_Symbol"},
                                    {"orf.csv.gz", "orf", "Metadata_Symbol"}}) {
    if (!fs::exists(meta / file))
      continue;
    CsvTable table;
    std::vector<int> tc;
    if (Status s = readCsv((meta / file).string(), table); !s)
      return s;
    if (Status s = table.require({"Metadata_JCP2022", column}, tc); !s)
      return s;
    for (size_t r = 0; r < table.rows.size(); ++r) {
      Perturbation &p = what[table.rows[r][tc[0]]];
      p.type = type;
      (std::string(type) == "compound" ? p.smiles : p.gene) = table.rows[r][tc[1]];
      p.where = table.where(r) + " (" + table.rows[r][tc[0]] + ")";
    }
  }
  const std::vector<std::string> names(jumpChannels().begin(), jumpChannels().begin() + channels);
  // The cell line: cpg0016's plates are all U2OS; a plate table that says
  // otherwise (CP-JUMP1's A549 plates, the simulated screen's lines) names
  // it in `Metadata_CellType`.
  const int cellType = plates.column("Metadata_CellType");
  for (const auto &p : plates.rows) {
    const std::string &source = p[pc[0]], &batch = p[pc[1]], &plate = p[pc[2]];
    const std::string cells = cellType >= 0 && !p[cellType].empty() ? p[cellType] : "U2OS";
    fs::path csv = fs::path(root) / "load_data_csv" / batch / plate / "load_data.csv.gz";
    if (!fs::exists(csv))
      csv.replace_extension(); // load_data.csv
    SiteIndex one;
    if (Status s = readLoadData(csv.string(), names, "", one); !s)
      return s;
    for (size_t i = 0; i < one.size(); ++i) {
      const std::string &well = one.columns["well"][i]; // plate/well
      auto jcp = jcpOf.find(well);
      if (jcp == jcpOf.end())
        return Status::error(ErrorKind::InputMismatch, one.where[i] + ": well `" + well.substr(well.find('/') + 1) +
                             "` of plate `" + plate + "` is not in " + (meta / "well.csv.gz").string());
      index.files.push_back(one.files[i]);
      index.where.push_back(one.where[i]);
      index.add("perturbation", jcp->second);
      const bool control = jcp->second == kJumpControl;
      index.add("control", control ? "1" : "0");
      const Perturbation &is = what.count(jcp->second) ? what[jcp->second] : Perturbation();
      index.add("perturbation_type", control ? "control" : is.type);
      index.add("smiles", is.smiles);
      if (!is.smiles.empty())
        index.valueWhere["smiles"].emplace(is.smiles, is.where);
      index.add("gene", is.gene);
      index.add("plate", plate);
      index.add("well", well);
      index.add("site", one.columns["site"][i]);
      index.add("batch", batch);
      index.add("source", source);
      index.add("cell_type", cells);
      index.add("split", splitOf.count(plate) ? splitOf[plate] : "train");
    }
  }
  if (index.size() == 0)
    return Status::error(ErrorKind::InputMismatch, root + ": no sites in its load_data files");
  return Status::ok();
}

} // namespace exprt
