// The simulated screen written in real on-disk formats (docs/data.md): RxRx1's
// metadata.csv and 8-bit PNG tree, or JUMP's metadata tables, per-plate
// load_data CSVs and 16-bit TIFFs; each with ground_truth.json.
#include "data/SimulatedRender.h"
#include "data/SimulatedScreen.h"
#include "prep/Csv.h"
#include "prep/Image.h"
#include "prep/Readers.h"
#include "record/Json.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <map>

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

// Renders and checks that the plates' wells fit a standard plate.
Status renderForDisk(const nlohmann::json &json, Rendered &r, int64_t &plateWells) {
  if (Status s = render(json, r); !s)
    return s;
  if (r.wellsPerPlate > 1536)
    return Status::error("simulated_screen: " + std::to_string(r.wellsPerPlate) +
                         " wells per plate (perturbations x replicates + controls) do not fit a "
                         "1536-well plate");
  plateWells = r.wellsPerPlate <= 96 ? 96 : r.wellsPerPlate <= 384 ? 384 : 1536;
  return Status::ok();
}

Status makeDirectory(const fs::path &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return ec ? Status::error(dir.string() + ": cannot create: " + ec.message()) : Status::ok();
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

// The ground truth the images were rendered from; `names[k]` is how the
// format names perturbation k.
Status writeTruth(const nlohmann::json &json, const Rendered &r, const std::vector<std::string> &names,
                  const fs::path &dir) {
  nlohmann::json truth = {{"format", "exp-simulated-truth"},
                          {"version", 1},
                          {"params", json},
                          {"features", std::vector<std::string>(kFeatureNames, kFeatureNames + kFeatures)}};
  nlohmann::json effects = nlohmann::json::object(), modules = nlohmann::json::object();
  for (size_t k = 0; k < names.size(); ++k) {
    effects[names[k]] = std::vector<double>(r.effects.begin() + k * kFeatures,
                                            r.effects.begin() + (k + 1) * kFeatures);
    if (k > 0)
      modules[names[k]] = r.module[k];
  }
  truth["effects"] = effects;
  truth["modules"] = modules;
  return writeFileAtomic((dir / "ground_truth.json").string(), truth.dump(1) + "\n");
}

} // namespace

Status writeSimulatedScreen(const nlohmann::json &json, const std::string &dir) {
  Rendered r;
  int64_t plateWells = 0;
  if (Status s = renderForDisk(json, r, plateWells); !s)
    return s;
  const Params &p = r.p;
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < r.pert.size(); ++i) {
    // Four plates to an experiment (RxRx1's layout); experiments are batches.
    int64_t pl = r.plateOf[i];
    std::string experiment = format("SIM-%02lld", pl / 4 + 1), plate = std::to_string(pl % 4 + 1);
    std::string well = wellName(r.wellInPlate[i], plateWells), site = std::to_string(r.siteInWell[i] + 1);
    bool control = r.pert[i] == 0;
    std::string wellId = experiment + "_" + plate + "_" + well;
    rows.push_back({wellId + "_" + site, wellId, "SIM", r.heldOut[i] ? "test" : "train", experiment,
                    plate, well, site, control ? "negative_control" : "treatment",
                    control ? "EMPTY" : format("sim-%04lld", r.pert[i]),
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
  std::vector<std::string> names{"EMPTY"};
  for (int64_t k = 1; k <= p.perturbations; ++k)
    names.push_back(format("sim-%04lld", k));
  return writeTruth(json, r, names, dir);
}

Status writeSimulatedScreenJump(const nlohmann::json &json, const std::string &dir) {
  Rendered r;
  int64_t plateWells = 0;
  if (Status s = renderForDisk(json, r, plateWells); !s)
    return s;
  const Params &p = r.p;
  const fs::path root(dir);
  const int64_t columns = plateWells <= 96 ? 12 : plateWells <= 384 ? 24 : 48;
  auto jcp = [](int64_t k) { return k == 0 ? std::string(kJumpControl) : format("JCP2022_9%05lld", k); };
  std::vector<std::vector<std::string>> plates, wells, splits;
  std::map<int64_t, std::vector<std::vector<std::string>>> loadData; // plate -> rows
  for (size_t i = 0; i < r.pert.size(); ++i) {
    const int64_t pl = r.plateOf[i], w = r.wellInPlate[i];
    const std::string batch = format("SIM-%02lld", pl / 4 + 1), plate = format("SIMPLATE-%02lld", pl + 1);
    const std::string well = wellName(w, plateWells), site = std::to_string(r.siteInWell[i] + 1);
    if (loadData[pl].empty()) {
      plates.push_back({"source_sim", batch, plate, "COMPOUND"});
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
                            {"Metadata_Source", "Metadata_Batch", "Metadata_Plate", "Metadata_PlateType"},
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
  std::vector<std::string> names;
  for (int64_t k = 0; k <= p.perturbations; ++k)
    names.push_back(jcp(k));
  return writeTruth(json, r, names, root);
}

} // namespace exprt
