// AnnData `.h5ad` files (HDF5) through the HDF5 C library: `X` dense or CSR
// sparse, `obs` and `var` data frames of string columns with their `_index`.
// What the simulated screen writes for its cell lines' single-cell
// transcriptomes, and what transcriptome side information reads (formats.md).
#pragma once

#include "exprt/Status.h"

#include <map>
#include <string>
#include <vector>

namespace exprt {

struct AnnData {
  int64_t obs = 0, vars = 0;
  // X: dense [obs, vars] row-major when `sparse` is false; else CSR.
  bool sparse = false;
  std::vector<float> dense;
  std::vector<float> data;
  std::vector<int32_t> indices;
  std::vector<int64_t> indptr; // obs + 1 entries
  std::vector<std::string> obsNames, varNames;
  // String columns of obs and var, in column order.
  std::vector<std::pair<std::string, std::vector<std::string>>> obsColumns, varColumns;
};

// Writes `a` as an AnnData 0.8+ file (encoding-type attributes included),
// atomically: a temporary file renamed into place.
Status writeH5ad(const std::string &path, const AnnData &a);

// Reads `path`: X as float32 (dense or csr_matrix; any integer or float
// dtype), obs/var `_index` and their string columns (categorical columns
// are expanded to their values). Anything else in the file is ignored; a
// file that is not HDF5, or lacks X, obs or var, is an error naming it and
// the object.
Status readH5ad(const std::string &path, AnnData &a);

} // namespace exprt
