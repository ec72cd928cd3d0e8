// Transcriptomic side information (docs/sideinfo.md): a cell line's vector
// from single-cell counts (.h5ad: pseudo-bulk per line, log-normalised,
// then PCA or the most variable genes) or from a precomputed embedding
// table (CSV: a name column, then the values; scVI's cell-line tables), and
// the mapping of a dataset's cell-line names onto the table's.
#pragma once

#include "exprt/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace exprt {

struct AnnData;

// Named rows of equal width (row-major).
struct EmbeddingTable {
  std::vector<std::string> names;
  int64_t dim = 0;
  std::vector<float> values; // names.size() x dim
  const float *row(size_t i) const { return values.data() + i * static_cast<size_t>(dim); }
};

// A CSV whose first column names a row and whose other columns are numbers;
// a cell that is not a finite number, or a name given twice, is an error
// naming file, line and column.
Status readEmbeddingTable(const std::string &path, EmbeddingTable &table);

// Pseudo-bulk of `data` per value of its obs column `groupBy`: counts summed
// over the group's cells, scaled to 10,000 per group and log1p'd (the
// log-normalisation single-cell tools apply to each cell, applied to the
// bulk). Rows in sorted order of the group names.
Status pseudoBulk(const AnnData &data, const std::string &groupBy, EmbeddingTable &bulk);

// `dim` features of each row: with `pca`, the scores on the first `dim`
// principal components of the centred rows (components past the rank are
// 0; signs fixed so each component's largest loading is positive); without,
// the `dim` genes of highest variance across rows (an error when fewer).
Status reduceTable(const EmbeddingTable &in, int64_t dim, bool pca, EmbeddingTable &out);

// The row of `table` for each of `keys` (a dataset's cell-line names):
// exact names first, then names equal once case and the characters " -_./"
// are ignored (HepG2 = HEPG2, Hs-5 = HS5). Keys no row matches are an error
// listing every one of them and some of the table's names.
Status mapNames(const std::vector<std::string> &keys, const EmbeddingTable &table, const std::string &what,
                std::vector<int64_t> &rows);

} // namespace exprt
