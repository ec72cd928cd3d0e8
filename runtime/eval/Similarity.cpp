#include "eval/Similarity.h"

#include <torch/torch.h>

#include <algorithm>

namespace exprt {

std::optional<Similarity> parseSimilarity(const std::string &name) {
  if (name == "cosine")
    return Similarity::Cosine;
  if (name == "pearson")
    return Similarity::Pearson;
  if (name == "euclidean")
    return Similarity::NegEuclidean;
  if (name == "manhattan")
    return Similarity::NegManhattan;
  if (name == "chebyshev")
    return Similarity::NegChebyshev;
  if (name == "abs_cosine")
    return Similarity::AbsCosine;
  return std::nullopt;
}

torch::Tensor prepareForSimilarity(const torch::Tensor &rows, Similarity sim) {
  torch::Tensor x = rows.to(torch::kFloat64).contiguous();
  if (sim == Similarity::Pearson)
    x = x - x.mean(1, /*keepdim=*/true);
  if (sim == Similarity::Cosine || sim == Similarity::Pearson || sim == Similarity::AbsCosine)
    // A zero row stays zero (similarity 0 to everything), as NumPy's 0/0
    // would not.
    x = x / x.norm(2, 1, /*keepdim=*/true).clamp_min(1e-300);
  return x;
}

static double distanceP(Similarity sim) {
  return sim == Similarity::NegEuclidean ? 2.0
         : sim == Similarity::NegManhattan ? 1.0
                                           : std::numeric_limits<double>::infinity();
}

torch::Tensor similarityBlock(const torch::Tensor &a, const torch::Tensor &b, Similarity sim) {
  switch (sim) {
  case Similarity::Cosine:
  case Similarity::Pearson:
    return torch::matmul(a, b.t());
  case Similarity::AbsCosine:
    return torch::matmul(a, b.t()).abs();
  default:
    // cdist's GEMM shortcut for p = 2 loses the digits ties need.
    return -torch::cdist(a, b, distanceP(sim), /*compute_mode=*/2);
  }
}

int64_t similarityBlockRows(int64_t columns) {
  return std::clamp<int64_t>((int64_t(16) << 20) / std::max<int64_t>(1, columns), 1, 4096);
}

torch::Tensor similarityRows(const torch::Tensor &a, const torch::Tensor &b, Similarity sim) {
  switch (sim) {
  case Similarity::Cosine:
  case Similarity::Pearson:
    return (a * b).sum(1);
  case Similarity::AbsCosine:
    return (a * b).sum(1).abs();
  default:
    return -(a - b).norm(distanceP(sim), 1);
  }
}

} // namespace exprt
