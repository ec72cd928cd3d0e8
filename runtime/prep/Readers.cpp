#include "prep/Readers.h"

#include "prep/Csv.h"

#include <filesystem>

namespace exprt {
namespace fs = std::filesystem;

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
      return Status::error(t.where(r) + ": `well_type` is `" + wellType +
                           "`; expected treatment, negative_control or positive_control");
    const std::string &split = row[c[Dataset]];
    if (split != "train" && split != "test")
      return Status::error(t.where(r) + ": `dataset` is `" + split + "`; expected train or test");
    fs::path dir = fs::path(root) / "images" / row[c[Experiment]] / ("Plate" + row[c[Plate]]);
    std::vector<std::string> files;
    for (int64_t k = 1; k <= channels; ++k)
      files.push_back((dir / (row[c[Well]] + "_s" + row[c[Site]] + "_w" + std::to_string(k) + ".png"))
                          .string());
    index.files.push_back(std::move(files));
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
    return Status::error(t.path + ": no sites");
  return Status::ok();
}

Status readLoadData(const std::string &csv, const std::vector<std::string> &channels,
                    const std::string &perturbationColumn, SiteIndex &index) {
  index = SiteIndex();
  CsvTable t;
  if (Status s = readCsv(csv, t); !s)
    return s;
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
  int pert = perturbationColumn.empty() ? -1 : t.column(perturbationColumn);
  if (!perturbationColumn.empty() && pert < 0)
    return Status::error(csv + ":1: no column `" + perturbationColumn + "` in the header");
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
    return Status::error(csv + ": no sites");
  return Status::ok();
}

} // namespace exprt
