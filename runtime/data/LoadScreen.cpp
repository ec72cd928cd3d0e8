#include "data/LoadScreen.h"

#include "data/Random.h"
#include "data/simulator/SimulatedScreen.h"
#include "prep/Pack.h"
#include "prep/Readers.h"
#include "record/Json.h"
#include "record/Sha256.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <stdlib.h>
#include <unistd.h>

namespace exprt {
namespace fs = std::filesystem;
namespace {

// Bumped whenever the simulator renders differently, so cached screens of
// the same parameters are not reused.
constexpr const char *kSimulatorVersion = "exp-simulated-screen/6";

// The simulated screen in the format it names: RxRx1's (default), JUMP's
// or RxRx3-core's.
std::string screenFormat(const nlohmann::json &params) { return params.value("format", std::string("rxrx1")); }
Status writeSimulated(const nlohmann::json &params, const std::string &dir) {
  const std::string format = screenFormat(params);
  return format == "jump"         ? writeSimulatedScreenJump(params, dir)
         : format == "rxrx3_core" ? writeSimulatedScreenRxrx3(params, dir)
                                  : writeSimulatedScreen(params, dir);
}
Status readSimulated(const nlohmann::json &params, const std::string &dir, SiteIndex &index) {
  const std::string format = screenFormat(params);
  const int64_t channels = params.value("channels", int64_t(3));
  return format == "jump"         ? readJump(dir, channels, index)
         : format == "rxrx3_core" ? readRxrx3Core(dir, index)
                                  : readRxrx1(dir, channels, index);
}

// A directory removed when it goes out of scope (screens simulated without
// a cache).
struct TempDir {
  std::string path;
  ~TempDir() {
    if (!path.empty()) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};

} // namespace

Status writeSimulatedScreenDir(const nlohmann::json &params, const std::string &dir) {
  std::string tmp = dir + ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec)
    return Status::error(ErrorKind::OutputUnwritable, tmp + ": cannot create: " + ec.message());
  TempDir cleanup{tmp}; // gone after the rename, or after a failure
  if (Status s = writeSimulated(params, tmp); !s)
    return s;
  fs::rename(tmp, dir, ec);
  if (ec)
    return Status::error(ErrorKind::OutputUnwritable, dir + ": cannot rename into place: " + ec.message());
  return Status::ok();
}

namespace {

// The simulated screen of `params` on disk: `<cache>/simulated/<key>`.
Status simulatedScreenDir(const nlohmann::json &params, const DataOptions &o, TempDir &temp,
                          std::string &dir, bool &reused) {
  reused = false;
  if (o.cacheDir.empty()) {
    std::string pattern = (fs::temp_directory_path() / "exp-screen-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
      return Status::error(ErrorKind::OutputUnwritable, pattern + ": cannot create a temporary directory");
    temp.path = dir = pattern;
    return writeSimulated(params, dir);
  }
  // A build without HDF5 writes no .h5ad (SimulatedWriters.cpp): its
  // screens are kept apart from complete ones.
  std::string key = Sha256()
                        .update(std::string(kSimulatorVersion) + (built(BuildFeature::Hdf5) ? "" : "/no-h5ad"))
                        .update(params.dump())
                        .hex();
  dir = (fs::path(o.cacheDir) / "simulated" / key.substr(0, 32)).string();
  if (fs::exists(fs::path(dir) / "ground_truth.json")) {
    reused = true;
    return Status::ok();
  }
  Status s = writeSimulatedScreenDir(params, dir);
  if (!s && fs::exists(fs::path(dir) / "ground_truth.json")) // another writer won the rename
    return Status::ok();
  return s;
}

// Codes of `values` by sorted distinct value, from `first`.
torch::Tensor codes(const std::vector<std::string> &values, int64_t first, int64_t &count) {
  std::map<std::string, int64_t> code;
  for (const std::string &v : values)
    code.emplace(v, 0);
  int64_t next = first;
  for (auto &[v, c] : code)
    c = next++;
  count = static_cast<int64_t>(code.size());
  std::vector<int64_t> out;
  out.reserve(values.size());
  for (const std::string &v : values)
    out.push_back(code.at(v));
  return torch::tensor(out, torch::kInt64);
}

// The data sources the runtime reads, one entry each (the compiler's half
// is its entry in compiler/dialects/exp/ExpDialect.cpp, the declaration in
// stdlib/std/data.exp): the default image size, the declared columns held
// by index columns of another name (the rest are held under their own), the
// declared class counts the data must fit, and the format's reader (null:
// RxRx1 and the simulated screen, which load their own way).
struct Source {
  const char *name;
  int64_t defaultSize;
  std::map<std::string, std::string> aliases;
  std::vector<std::pair<std::string, int64_t>> classes; // checked in this order
  // Reads the dataset at `root` into `index`; may add selections to `selected`.
  Status (*read)(const Plan &plan, const DataOptions &o, const std::string &root, Plan &selected, SiteIndex &index);
  // The optional features its index (metadata) reader needs on every run;
  // images are decoded only when no packed copy is cached, so their
  // formats are refused at the decode (features/Features.h).
  std::vector<BuildFeature> needs = {BuildFeature::Csv};
};

Status readJumpSource(const Plan &, const DataOptions &, const std::string &root, Plan &, SiteIndex &index) {
  return readJump(root, 5, index);
}
Status readRxrx3Source(const Plan &, const DataOptions &, const std::string &root, Plan &, SiteIndex &index) {
  return readRxrx3Core(root, index);
}
Status readRxrx19aSource(const Plan &plan, const DataOptions &, const std::string &root, Plan &selected,
                         SiteIndex &index) {
  selected.select["keep"]["cell_type"] = {plan.dataParams.value("cell_type", std::string("HRCE"))};
  return readRxrx19a(root, index);
}
Status readBraySource(const Plan &plan, const DataOptions &o, const std::string &root, Plan &, SiteIndex &index) {
  return readBray((fs::path(root) / plan.dataParams.value("index", std::string("index.csv"))).string(),
                  (fs::path(root) / plan.dataParams.value("images", std::string("npzs"))).string(),
                  plan.dataParams.value("split", std::string("random")), index, o.scaffoldOf);
}
Status readCellPaintingSource(const Plan &plan, const DataOptions &, const std::string &root, Plan &,
                              SiteIndex &index) {
  return readCellPainting((fs::path(root) / plan.dataParams.value("metadata", std::string("metadata.csv"))).string(),
                          plan.dataParams.value("channels", int64_t(5)), index);
}

const Source kSources[] = {
    {"simulated_screen", 32, {}, {}, nullptr},
    {"rxrx1",
     512,
     {{"sirna", "perturbation"}, {"experiment", "batch"}, {"plate", "plate_number"}},
     {{"sirna", 1139}, {"plate", 4}, {"experiment", 51}, {"cell_type", 4}, {"site", 2}},
     nullptr},
    {"jump_cp",
     224,
     {{"compound", "perturbation"}},
     {{"control", 2}, {"perturbation_type", 4}, {"split", 3}},
     readJumpSource},
    {"rxrx3_core",
     224,
     {{"treatment", "perturbation"}, {"experiment", "batch"}},
     {{"perturbation_type", 3}},
     readRxrx3Source},
    {"rxrx19a",
     224,
     {{"treatment", "perturbation"}, {"experiment", "batch"}},
     {{"cell_type", 2}},
     readRxrx19aSource},
    {"bray2017", 520, {{"compound", "perturbation"}}, {{"split", 3}}, readBraySource},
    {"cellpainting", 224, {{"perturbation", "perturbation"}}, {{"control", 2}}, readCellPaintingSource},
};

const Source *findSource(const std::string &kind) {
  for (const Source &s : kSources)
    if (kind == s.name)
      return &s;
  return nullptr;
}

const std::map<std::string, std::string> &aliases(const std::string &kind) {
  static const std::map<std::string, std::string> kNone;
  const Source *s = findSource(kind);
  return s ? s->aliases : kNone;
}


// `hold_out_fraction`: the held-out split drawn at random in place of the
// source's own. Rows are grouped by `split_by` (wells, so a well's sites
// never straddle the split); within each value of `stratify` (all rows as
// one stratum without it) round(fraction x groups) of its groups, at least
// one and never all of two or more, are held out. The draw depends only on
// the dataset's seed and the group names, not on row order.
Status holdOutFraction(const Plan &plan, SiteIndex &index) {
  const std::string at = plan.sourcePath + ": dataset `" + plan.dataName + "`: `hold_out_fraction`: ";
  auto columnOf = [&](const std::string &declared) -> const std::vector<std::string> * {
    const std::string name = readerColumn(plan.dataKind, declared);
    return index.has(name) ? &index.columns.at(name) : nullptr;
  };
  const std::vector<std::string> *group = columnOf(plan.holdOutBy);
  const std::vector<std::string> *stratum = plan.holdOutStratify.empty() ? nullptr : columnOf(plan.holdOutStratify);
  if (!group || (!plan.holdOutStratify.empty() && !stratum))
    return Status::error(ErrorKind::InputMismatch, at + "the `" + plan.dataKind + "` reader gives no `" +
                         (group ? plan.holdOutStratify : plan.holdOutBy) + "` column");
  // Each group's stratum: that of its first row.
  std::map<std::string, std::vector<std::string>> groupsOf;
  std::set<std::string> seen;
  for (size_t i = 0; i < index.size(); ++i)
    if (seen.insert((*group)[i]).second)
      groupsOf[stratum ? (*stratum)[i] : ""].push_back((*group)[i]);
  const uint64_t seed = plan.dataParams.value("seed", uint64_t(0));
  std::set<std::string> heldOut;
  for (auto &[s, groups] : groupsOf) {
    std::sort(groups.begin(), groups.end());
    std::vector<std::pair<uint64_t, std::string>> order;
    for (const std::string &g : groups)
      order.emplace_back(splitmix64(splitmix64(seed ^ 0x5EEDull, s), g), g);
    std::sort(order.begin(), order.end());
    const int64_t n = static_cast<int64_t>(groups.size());
    int64_t k = n < 2 ? 0 : std::clamp<int64_t>(std::llround(plan.holdOutFraction * n), 1, n - 1);
    for (int64_t j = 0; j < k; ++j)
      heldOut.insert(order[static_cast<size_t>(j)].second);
  }
  if (heldOut.empty())
    return Status::error(ErrorKind::InputMismatch, at + "no stratum has two `" + plan.holdOutBy + "` groups to split");
  std::vector<std::string> &split = index.columns["split"];
  split.resize(index.size());
  for (size_t i = 0; i < index.size(); ++i)
    split[i] = heldOut.count((*group)[i]) ? "test" : "train";
  return Status::ok();
}

// The dataset block's row selections on `index`: rows that match every
// column of `keep` stay, rows that match every column of `drop` go, and rows
// that match every column of `hold_out` form the held-out split in place of
// the source's own. A value no row has is an error (a typo would otherwise
// select nothing, or everything, silently).
Status selectSites(const Plan &plan, SiteIndex &index) {
  const std::string at = plan.sourcePath + ": dataset `" + plan.dataName + "`: ";
  std::map<std::string, std::vector<bool>> matched;
  for (const auto &[key, columns] : plan.select) {
    std::vector<bool> match(index.size(), true);
    for (const auto &[column, values] : columns) {
      const std::string name = readerColumn(plan.dataKind, column);
      if (!index.has(name))
        return Status::error(ErrorKind::InputMismatch, at + "`" + key + "` selects on `" + column + "`, which the `" + plan.dataKind +
                             "` reader does not provide");
      const std::vector<std::string> &have = index.columns.at(name);
      std::set<std::string> present(have.begin(), have.end());
      for (const std::string &v : values)
        if (!present.count(v)) {
          std::string some;
          for (auto it = present.begin(); it != present.end() && some.size() < 200; ++it)
            some += (some.empty() ? "" : ", ") + *it;
          return Status::error(ErrorKind::InputMismatch, at + "`" + key + "`: no row has " + column + " = \"" + v + "\" (its values: " +
                               some + (present.size() > 1 && some.size() >= 200 ? ", ..." : "") + ")");
        }
      std::set<std::string> wanted(values.begin(), values.end());
      for (size_t i = 0; i < index.size(); ++i)
        match[i] = match[i] && wanted.count(have[i]);
    }
    matched[key] = std::move(match);
  }
  std::vector<bool> kept(index.size(), true);
  for (size_t i = 0; i < index.size(); ++i)
    kept[i] = (!matched.count("keep") || matched["keep"][i]) && !(matched.count("drop") && matched["drop"][i]);
  SiteIndex out;
  out.channelsPerFile = index.channelsPerFile;
  out.valueWhere = std::move(index.valueWhere);
  for (size_t i = 0; i < index.size(); ++i) {
    if (!kept[i])
      continue;
    out.files.push_back(std::move(index.files[i]));
    out.where.push_back(std::move(index.where[i]));
    for (auto &[name, values] : index.columns)
      out.add(name, name == "split" && matched.count("hold_out") ? (matched["hold_out"][i] ? "test" : "train")
                                                                  : std::move(values[i]));
  }
  if (out.size() == 0)
    return Status::error(ErrorKind::InputMismatch, at + "`keep` and `drop` leave no rows");
  index = std::move(out);
  return plan.holdOutFraction > 0 ? holdOutFraction(plan, index) : Status::ok();
}

// The Screen of a SiteIndex and its packed images.
Status buildScreen(const SiteIndex &index, PackedImages &packed, Screen &screen) {
  const size_t n = index.size();
  for (const char *need : {"perturbation", "control", "plate", "well", "split"})
    if (!index.has(need))
      return Status::error(ErrorKind::InputMismatch, std::string("the dataset has no `") + need + "` column");
  // Controls are class 0; treatments 1.. in sorted order of their names.
  const auto &control = index.columns.at("control");
  std::vector<std::string> treatments;
  std::vector<size_t> treatedRows;
  for (size_t i = 0; i < n; ++i)
    if (control[i] != "1") {
      treatments.push_back(index.columns.at("perturbation")[i]);
      treatedRows.push_back(i);
    }
  int64_t K = 0;
  torch::Tensor tcodes = codes(treatments, 1, K);
  std::vector<int64_t> pert(n, 0);
  for (size_t j = 0; j < treatedRows.size(); ++j)
    pert[treatedRows[j]] = tcodes[static_cast<int64_t>(j)].item<int64_t>();
  screen.perturbation = torch::tensor(pert, torch::kInt64);
  screen.perturbations = K + 1;
  screen.plate = codes(index.columns.at("plate"), 0, screen.plates);
  screen.well = codes(index.columns.at("well"), 0, screen.wells);
  int64_t unused = 0;
  if (index.has("batch"))
    screen.batch = codes(index.columns.at("batch"), 0, unused);
  if (index.has("source"))
    screen.source = codes(index.columns.at("source"), 0, unused);
  const auto &split = index.columns.at("split");
  for (size_t i = 0; i < n; ++i) {
    if (split[i] == "train")
      screen.trainSites.push_back(static_cast<int64_t>(i));
    else if (split[i] == "test")
      screen.evalSites.push_back(static_cast<int64_t>(i));
  }
  if (screen.trainSites.empty() || screen.evalSites.empty())
    return Status::error(ErrorKind::InputMismatch, index.where[0] + ": the dataset needs both `train` and `test` sites (declare "
                         "`hold_out = { column = value }` in its dataset block when the source has no split)");
  screen.metadata = index.columns;
  screen.rowWhere = index.where;
  screen.valueWhere = index.valueWhere;
  screen.images = packed.images;
  screen.mean = packed.mean;
  screen.std = packed.std;
  screen.dataSha256 = packed.sha256;
  return Status::ok();
}

// The dataset's `path`: a relative one is relative to the .exp file, as
// imports are.
std::string dataRoot(const Plan &plan) { return specPath(plan, plan.dataParams.value("path", std::string())); }

// The real sources beyond RxRx1 (jump_cp, rxrx3_core, rxrx19a, bray2017,
// cellpainting): the format's
// reader, the dataset's selections, packing, and a labels column for every
// metadata column (codes in sorted order), also under the source's declared
// names. Columns with a declared class count are checked against it.
Status loadRealSource(const Source &source, const Plan &plan, const DataOptions &o, const PackOptions &po,
                      Screen &screen, std::string &description) {
  const std::string root = dataRoot(plan), &kind = plan.dataKind;
  SiteIndex index;
  Plan selected = plan;
  Status s = source.read(plan, o, root, selected, index);
  if (!s)
    return s;
  if (s = selectSites(selected, index); !s)
    return s;
  PackedImages packed;
  if (s = packImages(index, po, packed); !s)
    return s;
  if (s = buildScreen(index, packed, screen); !s)
    return s;
  for (const auto &[name, values] : index.columns) {
    if (name == "perturbation") // buildScreen's codes, controls class 0, stand for it
      continue;
    int64_t classes = 0;
    screen.labels[name] = codes(values, 0, classes);
  }
  for (const auto &[declared, held] : source.aliases)
    screen.labels[declared] = held == "perturbation" ? screen.perturbation : screen.labels.at(held);
  // The declared class counts (stdlib/std/data.exp).
  for (const auto &[name, limit] : source.classes)
    if (index.has(name)) {
      int64_t top = screen.labels[name].max().item<int64_t>() + 1;
      if (top > limit)
        return Status::error(ErrorKind::InputMismatch, root + ": " + std::to_string(top) + " distinct `" + name + "` values; `" + kind +
                             "` declares " + std::to_string(limit));
    }
  if (plan.dataParams.value("pairing", std::string("none")) == "micon")
    pairSites(screen);
  screen.dataDir = root;
  description = kind + " at " + root + (packed.reused ? ", packed images reused" : ", images packed");
  return Status::ok();
}

// RxRx1 from the dataset's `path`: the Screen, with RxRx1's own label columns.
Status loadRxrx1(const Plan &plan, const PackOptions &po, Screen &screen,
                 std::string &description) {
  const nlohmann::json &params = plan.dataParams;
  const std::string root = dataRoot(plan);
  SiteIndex index;
  PackedImages packed;
  if (Status s = readRxrx1(root, params.value("channels", int64_t(6)), index); !s)
    return s;
  if (Status s = selectSites(plan, index); !s)
    return s;
  if (Status s = packImages(index, po, packed); !s)
    return s;
  if (Status s = buildScreen(index, packed, screen); !s)
    return s;
  int64_t classes = 0;
  screen.labels["sirna"] = screen.perturbation;
  screen.labels["plate"] = codes(index.columns.at("plate_number"), 0, classes);
  screen.labels["experiment"] = codes(index.columns.at("batch"), 0, classes);
  screen.labels["cell_type"] = codes(index.columns.at("cell_type"), 0, classes);
  screen.labels["site"] = codes(index.columns.at("site"), 0, classes);
  // The declared label counts (stdlib/std/data.exp) bound the codes.
  for (const auto &[name, limit] : findSource("rxrx1")->classes) {
    int64_t top = screen.labels[name].max().item<int64_t>() + 1;
    if (top > limit)
      return Status::error(ErrorKind::InputMismatch, root + "/metadata.csv: " + std::to_string(top) + " distinct `" + name +
                           "` values; RxRx1 declares " + std::to_string(limit));
  }
  screen.dataDir = root;
  description = "RxRx1 at " + root + (packed.reused ? ", packed images reused" : ", images packed");
  return Status::ok();
}

} // namespace

std::string readerColumn(const std::string &kind, const std::string &name) {
  const auto &a = aliases(kind);
  auto it = a.find(name);
  return it == a.end() ? name : it->second;
}

bool readsDataSource(const std::string &kind) { return findSource(kind) != nullptr; }

Status checkDataFeatures(const Plan &plan, const std::string &origin) {
  const Source *source = findSource(plan.dataKind);
  return source ? requireFeatures(source->needs, origin + ": dataset `" + plan.dataName + "` (`" + plan.dataKind + "`)")
                : Status::ok();
}

Status loadScreen(const Plan &plan, const DataOptions &o, Screen &screen, std::string &description) {
  screen = Screen();
  const nlohmann::json &params = plan.dataParams;
  const Source *source = findSource(plan.dataKind);
  if (!source)
    return Status::error(ErrorKind::PlanUnsupported, plan.sourcePath + ": the `" + plan.dataKind + "` reader is not available yet");
  PackOptions po;
  po.size = params.value("image_size", source->defaultSize);
  po.cacheDir = o.cacheDir.empty() ? "" : (fs::path(o.cacheDir) / "packed").string();
  po.threads = o.threads;
  po.progress = o.progress;
  if (plan.dataKind == "rxrx1")
    return loadRxrx1(plan, po, screen, description);
  if (source->read)
    return loadRealSource(*source, plan, o, po, screen, description);
  SiteIndex index;
  PackedImages packed;
  auto temp = std::make_shared<TempDir>(); // kept by the screen: side files live there
  std::string dir;
  bool reused = false;
  // The simulated screen through its format's reader, like a download; a cached
  // copy that no longer reads (a file deleted or damaged) is written afresh.
  for (int attempt = 0;; ++attempt) {
    if (Status s = simulatedScreenDir(params, o, *temp, dir, reused); !s)
      return s;
    Status s = readSimulated(params, dir, index);
    if (s) { // a selection that fails is the .exp's fault, not the cache's
      if (Status selected = selectSites(plan, index); !selected)
        return selected;
      s = packImages(index, po, packed);
    }
    if (s)
      break;
    if (!reused || attempt > 0)
      return s;
    if (o.progress)
      std::fprintf(stderr, "data: the cached simulated screen is damaged (%s); writing it again\n",
                   s.message().c_str());
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  description = std::string("simulated screen") + (reused ? " (cached)" : "") + " in " + dir +
                (screenFormat(params) == "jump"         ? " (JUMP layout)"
                 : screenFormat(params) == "rxrx3_core" ? " (RxRx3-core layout)"
                                                        : "");
  if (Status s = buildScreen(index, packed, screen); !s)
    return s;
  screen.dataDir = dir;
  screen.dataDirOwner = temp;
  int64_t lines = 0;
  screen.labels["cell_type"] = index.has("cell_type") ? codes(index.columns.at("cell_type"), 0, lines)
                                                      : torch::zeros({screen.perturbation.size(0)}, torch::kInt64);
  if (params.value("pairing", std::string("none")) == "micon")
    pairSites(screen);
  description += packed.reused ? ", packed images reused" : ", images packed";
  return Status::ok();
}

} // namespace exprt
