// Clustering and integration metrics against the published definitions
// (and the few-shot probe on separable and random labels):
// the literals come from tests/unit/reference/clustering_reference.py
// (scikit-learn's ARI/NMI/silhouette, scIB's batch ASW and graph
// connectivity, harmonypy's LISI, written out in NumPy).
#include "eval/Clustering.h"
#include "eval/FewShot.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <algorithm>
#include <random>

using namespace exprt;

namespace {

torch::Tensor points() {
  return torch::tensor({0.0, 0.0, 0.3, 0.1, 0.1, 0.4, 0.5, 0.5, 3.0, 3.1, 3.4, 2.9, 2.8, 3.5, 3.3, 3.6,
                        0.2, 3.0, 0.6, 3.3, 0.1, 3.7, 2.0, 2.0},
                       torch::kFloat64)
      .view({12, 2});
}
const std::vector<int64_t> kLabel{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0};
const std::vector<int64_t> kBatch{0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0};

} // namespace

TEST_CASE("ARI and NMI match scikit-learn's definitions") {
  CHECK(adjustedRandIndex({0, 0, 1, 1}, {0, 0, 1, 2}) == doctest::Approx(0.5714285714285715).epsilon(1e-12));
  CHECK(normalizedMutualInfo({0, 0, 1, 1}, {0, 0, 1, 2}) == doctest::Approx(0.8).epsilon(1e-12));
  CHECK(adjustedRandIndex({0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2}) ==
        doctest::Approx(0.24242424242424246).epsilon(1e-12));
  CHECK(normalizedMutualInfo({0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2}) ==
        doctest::Approx(0.5158037429793888).epsilon(1e-12));
  // Codes are names only: relabelling a partition changes nothing.
  CHECK(adjustedRandIndex({5, 5, 9, 9}, {1, 1, 0, 0}) == 1.0);
  CHECK(normalizedMutualInfo({5, 5, 9, 9}, {1, 1, 0, 0}) == doctest::Approx(1.0));
  // Independent partitions: ARI below 0 here, NMI 0.
  CHECK(adjustedRandIndex({0, 0, 1, 1}, {0, 1, 0, 1}) < 0);
  CHECK(normalizedMutualInfo({0, 0, 1, 1}, {0, 1, 0, 1}) == doctest::Approx(0.0));
}

TEST_CASE("silhouette widths, scIB's batch ASW") {
  const std::vector<double> want{0.6821687071534486, 0.7165885423405944, 0.6888712584214783,
                                 0.6762919594556697, 0.8191864055719039, 0.7875091337768614,
                                 0.7612880167753038, 0.8016569225883161, 0.7694137436050633,
                                 0.7755828086410951, 0.7802994893334839, -0.30758800363430105};
  std::vector<double> s = silhouetteSamples(points(), kLabel);
  REQUIRE(s.size() == want.size());
  for (size_t i = 0; i < s.size(); ++i)
    CHECK(s[i] == doctest::Approx(want[i]).epsilon(1e-12));
  CHECK(silhouetteBatch(points(), kLabel, kBatch) == doctest::Approx(0.7029810640390126).epsilon(1e-12));
  // A singleton label's silhouette is 0.
  CHECK(silhouetteSamples(points(), {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3})[11] == 0.0);
}

TEST_CASE("kNN graph connectivity and LISI") {
  Neighbours two = nearestNeighbours(points(), 2);
  REQUIRE(two.k == 2);
  CHECK(two.index[0] == 1); // (0.3, 0.1) is nearest to the origin
  CHECK(two.distance[0] == doctest::Approx(std::sqrt(0.1)));
  // The stray row 11 of label 0 links to no other row of its label.
  CHECK(graphConnectivity(two, kLabel) == doctest::Approx(0.9333333333333332).epsilon(1e-12));
  Neighbours five = nearestNeighbours(points(), 5);
  const std::vector<double> byLabel{1.0000000000370077, 1.0, 1.0, 1.000000000000009, 1.0, 1.0011253453166389,
                                    1.0000029873622744, 1.0000000000762652, 1.0159925583160443,
                                    1.0101358675679935, 1.0018067839335338, 1.0207215001279355};
  const std::vector<double> byBatch{1.6987749001874923, 1.065259795225063,  1.2520489370751369,
                                    1.8655084406287656, 1.9999999999999991, 1.5604694998649082,
                                    1.8132092337510841, 1.659880843262909,  1.0132351729460374,
                                    1.8775597587287196, 1.9708850035836614, 1.1942795965286461};
  std::vector<double> l = lisi(five, kLabel, 2.0), b = lisi(five, kBatch, 2.0);
  for (size_t i = 0; i < byLabel.size(); ++i) {
    CHECK(l[i] == doctest::Approx(byLabel[i]).epsilon(1e-9));
    CHECK(b[i] == doctest::Approx(byBatch[i]).epsilon(1e-9));
  }
}

TEST_CASE("k-means recovers separated clusters; clustering scores summarise them") {
  // Three tight, far-apart clusters of 20 rows in 8 dimensions, each spread
  // over two batches.
  torch::manual_seed(3);
  torch::Tensor centres = torch::randn({3, 8}, torch::kFloat64) * 10;
  std::vector<int64_t> label, batch;
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < 60; ++i) {
    label.push_back(i % 3);
    batch.push_back((i / 3) % 2);
    rows.push_back(centres[i % 3] + 0.1 * torch::randn({8}, torch::kFloat64));
  }
  torch::Tensor x = torch::stack(rows);
  std::vector<int64_t> clusters = kMeans(x, 3, /*seed=*/0);
  CHECK(adjustedRandIndex(label, clusters) == 1.0);
  // Same seed, same answer.
  CHECK(kMeans(x, 3, 0) == clusters);
  ClusteringScores s = clusteringScores(x, label, batch, 0);
  CHECK(s.rows == 60);
  CHECK(s.labels == 3);
  CHECK(s.batches == 2);
  CHECK(s.ari == 1.0);
  CHECK(s.nmi == doctest::Approx(1.0));
  CHECK(s.silhouetteLabel > 0.95);
  CHECK(s.graphConnectivity == 1.0);
  CHECK(s.clisi < 1.1);                                  // almost only its own label around
  CHECK(s.ilisi > 1.5);                                  // batches mixed within a cluster
  CHECK(s.silhouetteBatch > 0.8);
  // Shuffled labels destroy the label scores, not the batch mixing.
  std::vector<int64_t> shuffled = label;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
  ClusteringScores r = clusteringScores(x, shuffled, batch, 0);
  CHECK(r.ari < 0.2);
  CHECK(r.silhouetteLabel < 0.55);
  CHECK(r.clisi > 1.5);
}

TEST_CASE("few-shot probe: separable classes from one shot; chance on noise; seeded") {
  // 6 classes far apart in 10 dimensions, 5 rows each.
  torch::manual_seed(1);
  torch::Tensor centres = torch::randn({6, 10}, torch::kFloat64) * 5;
  std::vector<int64_t> label;
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < 30; ++i) {
    label.push_back(100 + i % 6); // any codes
    rows.push_back(centres[i % 6] + 0.2 * torch::randn({10}, torch::kFloat64));
  }
  torch::Tensor x = torch::stack(rows);
  FewShotOptions o;
  o.shots = 1;
  o.seeds = 3;
  o.epochs = 200;
  o.lr = 0.05;
  o.top = {1, 3};
  FewShotResult r = fewShotProbe(x, label, o, 7);
  CHECK(r.classes == 6);
  CHECK(r.trainRows == 6);
  CHECK(r.testRows == 18); // 5 rows: 1 shot, 1 validation, 3 test
  CHECK(r.epochs.size() == 3);
  CHECK(r.mean.at(1) == 1.0);
  CHECK(r.std.at(1) == 0.0);
  CHECK(r.mean.at(3) == 1.0);
  // The same seed gives the same numbers.
  FewShotResult again = fewShotProbe(x, label, o, 7);
  CHECK(again.mean == r.mean);
  // Labels unrelated to the rows: no better than chance (1/6) by much.
  std::vector<int64_t> shuffled = label;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(3));
  o.seeds = 5;
  FewShotResult noise = fewShotProbe(x, shuffled, o, 7);
  CHECK(noise.mean.at(1) < 0.45);
}
