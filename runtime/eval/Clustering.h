// Clustering and integration metrics (the brief's evaluation.md), as scIB
// and Harmony define them: does the embedding group rows by their label, and
// does it mix batches within a label? Euclidean geometry throughout, in
// float64; every all-pairs quantity is computed block by block.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace exprt {

// Agreement of two partitions (any integer codes): the adjusted Rand index
// (Hubert & Arabie) and normalised mutual information with the arithmetic
// mean of the entropies (scikit-learn's defaults). 1 for identical
// partitions; ARI is 0 in expectation for random ones.
double adjustedRandIndex(const std::vector<int64_t> &a, const std::vector<int64_t> &b);
double normalizedMutualInfo(const std::vector<int64_t> &a, const std::vector<int64_t> &b);

// k-means (Lloyd, k-means++ seeding), best inertia of `restarts` seeded runs.
std::vector<int64_t> kMeans(const torch::Tensor &x, int64_t k, uint64_t seed, int restarts = 10,
                            int iterations = 300);

// Each row's silhouette width against the partition `label` (rows whose
// label has one member get 0, as in scikit-learn); the mean is the ASW.
std::vector<double> silhouetteSamples(const torch::Tensor &x, const std::vector<int64_t> &label);

// scIB's batch ASW: within each label, 1 - |silhouette| of the rows against
// their batches, averaged per label, then over labels (labels present in one
// batch only are skipped). 1: batches perfectly mixed.
double silhouetteBatch(const torch::Tensor &x, const std::vector<int64_t> &label,
                       const std::vector<int64_t> &batch);

// The k nearest other rows of each row (row-major n x k) and their distances.
struct Neighbours {
  int64_t k = 0;
  std::vector<int64_t> index;
  std::vector<double> distance;
};
Neighbours nearestNeighbours(const torch::Tensor &x, int64_t k);

// scIB's graph connectivity: for each label, the share of its rows in the
// largest connected component of the (symmetrised) kNN graph restricted to
// that label; the mean over labels.
double graphConnectivity(const Neighbours &nn, const std::vector<int64_t> &label);

// Harmony's LISI per row: the inverse Simpson index of `label` over the
// row's neighbours, weighted by a Gaussian kernel whose width gives
// `perplexity` (neighbours: 3 x perplexity). From 1 (one label around) up to
// the number of labels.
std::vector<double> lisi(const Neighbours &nn, const std::vector<int64_t> &label, double perplexity);

// Everything the `clustering` evaluation reports.
struct ClusteringScores {
  double ari = 0, nmi = 0;          // k-means with k = #labels against the labels
  double silhouetteLabel = 0;       // ASW by label, rescaled to [0, 1] as scIB does
  double silhouetteBatch = 0;       // scIB's batch ASW
  double graphConnectivity = 0;     // kNN graph, k = 15
  double ilisi = 0, clisi = 0;      // medians of LISI by batch and by label
  int64_t rows = 0, labels = 0, batches = 0;
};
ClusteringScores clusteringScores(const torch::Tensor &x, const std::vector<int64_t> &label,
                                  const std::vector<int64_t> &batch, uint64_t seed,
                                  double perplexity = 30);

} // namespace exprt
