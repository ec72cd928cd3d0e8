#include "eval/Metrics.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

using namespace exprt;

TEST_CASE("replicate mAP matches a hand computation") {
  // p0, p1: perturbation 1 on plates 0 and 1; p2, p3: controls.
  torch::Tensor x = torch::tensor({1.0, 0.0, 0.6, 0.8, 0.8, 0.6, 0.0, 1.0}).reshape({4, 2});
  MapResult r = replicateMap(x, {1, 1, 0, 0}, {0, 1, 0, 1}, {false, false, true, true});
  // p0 ranks p2 (0.8) before its positive p1 (0.6): AP 1/2.
  // p1 ranks p2 (0.96), p3 (0.8), then p0 (0.6): AP 1/3.
  CHECK(r.queries == 2);
  CHECK(r.perGroup.at(1) == doctest::Approx(5.0 / 12.0));
  CHECK(r.meanMap == doctest::Approx(5.0 / 12.0));
}

TEST_CASE("replicate mAP breaks similarity ties by partner index") {
  torch::Tensor x = torch::tensor({1.0, 0.0, 1.0, 0.0, 1.0, 0.0}).reshape({3, 2});
  // The control (index 0) ties with the positive and comes first: AP 1/2 each.
  MapResult r = replicateMap(x, {0, 1, 1}, {0, 0, 1}, {true, false, false});
  CHECK(r.meanMap == doctest::Approx(0.5));
}

TEST_CASE("queries without a positive on another plate are skipped") {
  torch::Tensor x = torch::randn({3, 4});
  MapResult r = replicateMap(x, {1, 1, 0}, {0, 0, 0}, {false, false, true});
  CHECK(r.queries == 0);
  CHECK(r.perGroup.empty());
}

TEST_CASE("recall@k and ranks match a hand computation") {
  torch::Tensor q = torch::tensor({1.0, 0.0, 0.0, 1.0}).reshape({2, 2});
  torch::Tensor c = torch::tensor({1.0, 0.0, 0.0, 1.0, 0.7, 0.7}).reshape({3, 2});
  RecallResult r = recallAtK(q, c, {0, 2}, {1, 2});
  CHECK(r.recallAt.at(1) == doctest::Approx(0.5));
  CHECK(r.recallAt.at(2) == doctest::Approx(1.0));
  CHECK(r.meanRank == doctest::Approx(1.5));
  CHECK(r.medianRank == doctest::Approx(1.5));
}

TEST_CASE("aggregation averages rows per group in group order") {
  torch::Tensor x = torch::tensor({1.0, 3.0, 5.0, 7.0}).reshape({4, 1});
  std::vector<int64_t> ids;
  torch::Tensor m = aggregateMean(x, {9, 2, 9, 2}, ids);
  REQUIRE(ids == std::vector<int64_t>{2, 9});
  CHECK(m[0][0].item<double>() == doctest::Approx(5.0));
  CHECK(m[1][0].item<double>() == doctest::Approx(3.0));
}
