// Readers of CellProfiler-style profiles (features, not images): per-well or
// per-cell tables as CSV (gzip or not) or SQLite in the cytominer-database
// schema (tables Image, Cells, Cytoplasm, Nuclei). `Metadata_*` columns (and
// SQLite's text columns and object keys) are metadata; every other column is
// a numeric feature. Parquet has no maintained C++ reader in Debian; the
// error for a .parquet file says how to convert it.
#pragma once

#include "exprt/Status.h"

#include <torch/types.h>

#include <string>
#include <vector>

namespace exprt {

struct Profiles {
  std::vector<std::string> metadataNames;
  std::vector<std::vector<std::string>> metadata; // [column][row]
  std::vector<std::string> featureNames;
  torch::Tensor features; // [rows, features] float64; NaN where a value is missing

  int64_t rows() const { return features.defined() ? features.size(0) : 0; }
  // The metadata column `name`, or nullptr.
  const std::vector<std::string> *meta(const std::string &name) const;
};

// Metadata columns are those named Metadata_* (or *_Metadata_*) and those
// listed in `metadata`; every other column is a feature.

// A CSV (or .csv.gz) profile table. Empty, NA and NaN cells are missing; any
// other cell of a feature column that is not a number is an error naming the
// file, line and column.
Status readProfilesCsv(const std::string &path, Profiles &profiles,
                       const std::vector<std::string> &metadata = {});

// Table `table` of a SQLite profile database (text columns are metadata too).
Status readProfilesSqlite(const std::string &path, const std::string &table, Profiles &profiles,
                          const std::vector<std::string> &metadata = {});

// By extension: .csv/.csv.gz/.tsv, .sqlite/.db (table `table`); .parquet is
// refused with the conversion to use.
Status readProfiles(const std::string &path, const std::string &table, Profiles &profiles,
                    const std::vector<std::string> &metadata = {});

} // namespace exprt
