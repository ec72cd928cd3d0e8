// Similarities between profiles, in float64 so rankings match the
// community's NumPy references to the last tie. Rows are prepared once
// (normalised for cosine, centred and normalised for Pearson) and then
// scored block against block by GEMM, or row against row.
#pragma once

#include "eval/AveragePrecision.h"

#include <torch/types.h>

namespace exprt {

// The rows as float64, transformed so a dot product is the similarity
// (cosine, Pearson, |cosine|); distances keep the raw rows.
torch::Tensor prepareForSimilarity(const torch::Tensor &rows, Similarity sim);

// [a, b] similarities of prepared rows.
torch::Tensor similarityBlock(const torch::Tensor &a, const torch::Tensor &b, Similarity sim);

// Rows per block when scoring against `columns` candidates: about 128 MB of
// float64 per block, between 1 and 4096 rows.
int64_t similarityBlockRows(int64_t columns);

// [n] similarities of a[i] with b[i].
torch::Tensor similarityRows(const torch::Tensor &a, const torch::Tensor &b, Similarity sim);

} // namespace exprt
