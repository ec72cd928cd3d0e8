// Average precision and mAP with copairs semantics (the brief's
// evaluation.md), computed without materialising all pairs: similarities
// come from blocked GEMMs of each query block against its candidate
// partners only, and ranks from counting, so memory stays O(block x
// candidates) and 100,000 profiles fit on a laptop.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace exprt {

// Metadata as integer codes: columns[c][row]. Equal codes = equal values.
using MetaColumns = std::vector<std::vector<int64_t>>;

enum class Similarity { Cosine, Pearson, NegEuclidean, NegManhattan, NegChebyshev, AbsCosine };
// "cosine", "pearson", "euclidean", "manhattan", "chebyshev", "abs_cosine".
std::optional<Similarity> parseSimilarity(const std::string &name);

// Which pairs count (copairs' pos_sameby/pos_diffby/neg_sameby/neg_diffby):
// a positive pair shares every `posSameby` column and differs in every
// `posDiffby` one; a negative pair likewise with `neg*`. Indices into the
// MetaColumns. With `controls` set, the common "treatment vs control"
// configuration is taken directly: queries and positives are the
// non-control rows, negatives the control rows (still subject to
// negSameby/negDiffby) -- what copairs reaches with its reference-index
// trick, without comparing treatments with each other.
struct PairRules {
  std::vector<int> posSameby, posDiffby, negSameby, negDiffby;
  std::vector<bool> controls; // empty = no control mode
};

struct ApOptions {
  Similarity similarity = Similarity::Cosine;
  int64_t block = 0; // query rows per GEMM block; 0 = sized to ~128 MB
  // Unset: the host's counting loops. Set: similarities and the counts of
  // negatives ranked above each positive as tensor ops on that device (a
  // GPU for large profile sets; the CPU gives the host path's APs, which is
  // how it is tested without a GPU).
  std::optional<torch::Device> device;
};

// One AP per query row with >= 1 positive and >= 1 negative pair.
struct ApScores {
  std::vector<int64_t> row;     // the query's row index
  std::vector<double> ap;       // sum_k P@k rel_k / n_pos
  std::vector<int64_t> nPos, nTotal;
};

// Per-row AP: partners ranked by similarity, descending, ties broken by the
// partner's row index ascending; each pair counts for both of its rows.
ApScores averagePrecision(const torch::Tensor &features, const MetaColumns &meta,
                          const PairRules &rules, const ApOptions &options = {});

struct MapOptions {
  int64_t nullSize = 10000; // Monte-Carlo null draws per (n_pos, n_total)
  uint64_t seed = 0;
  double threshold = 0.05; // on the BH-corrected p-value
  // Exact p-values where a group's null has at most this many joint
  // configurations (and always for a perfect mAP); 0 disables them.
  double exactLimit = 2e6;
};

struct MapGroup {
  int64_t key = 0;             // the sameby group's id (see meanAveragePrecision)
  std::vector<int64_t> rows;   // its query rows
  double map = 0;              // mean AP of its rows
  double pValue = 1;           // Monte-Carlo: (#(null > mAP) + 1) / (null_size + 1)
  double correctedP = 1;       // Benjamini-Hochberg across groups
  bool belowP = false, belowCorrectedP = false;
  std::optional<double> exactP; // P(null mAP >= mAP), when computable
};

struct MapSummary {
  std::vector<MapGroup> groups; // in order of first appearance of their rows
  double meanMap = 0;           // mean over groups
  double fractionRetrieved = 0; // share of groups with corrected p < threshold
};

// mAP per group of `group[row]` (the sameby key of each row) over the
// queries of `scores`, with copairs' null: for each distinct (n_pos,
// n_total), `nullSize` random rank lists; a group's null is the element-wise
// mean of its rows' nulls (so rows with the same configuration share draws,
// as in copairs, and the exact p-value follows the same null). Deterministic
// in `seed`, whatever the thread count.
MapSummary meanAveragePrecision(const ApScores &scores, const std::vector<int64_t> &group,
                                const MapOptions &options = {});

// Each row's id of its value combination over `cols` (0, 1, ... in order of
// first appearance); all 0 when `cols` is empty.
std::vector<int64_t> groupIds(const MetaColumns &meta, const std::vector<int> &cols, int64_t rows);

// Benjamini-Hochberg adjusted p-values, in input order.
std::vector<double> benjaminiHochberg(const std::vector<double> &p);

// The AP of a rank list with positives at the sorted 1-based `ranks`.
double apOfRanks(const std::vector<int64_t> &ranks);

} // namespace exprt
