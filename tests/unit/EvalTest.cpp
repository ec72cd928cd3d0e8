// Evaluation (issue 8): copairs-semantics AP and mAP on hand-computed cases
// and number for number against copairs 0.4.5 on BBBC021; profile stages.
#include "eval/AveragePrecision.h"
#include "eval/MetricJobs.h"
#include "eval/ProfileStages.h"
#include "eval/Retrieval.h"
#include "prep/Csv.h"

#include "SharedData.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>

using namespace exprt;

TEST_CASE("AP: ranks by similarity with ties to the lower partner row; pairs by rules") {
  // Rows 0, 1: treatment A on plates 0 and 1; 2, 3: controls.
  torch::Tensor x = torch::tensor({1.0, 0.0, 0.6, 0.8, 0.8, 0.6, 0.0, 1.0}).reshape({4, 2});
  MetaColumns meta{{1, 1, 0, 0}, {0, 1, 0, 1}};
  PairRules rules;
  rules.posSameby = {0};
  rules.posDiffby = {1};
  rules.controls = {false, false, true, true};
  ApScores s = averagePrecision(x, meta, rules);
  REQUIRE(s.row == std::vector<int64_t>{0, 1});
  // Row 0 ranks 2 (0.8) before its positive 1 (0.6): AP 1/2.
  // Row 1 ranks 2 (0.96), 3 (0.8), then 0 (0.6): AP 1/3.
  CHECK(s.ap[0] == doctest::Approx(0.5));
  CHECK(s.ap[1] == doctest::Approx(1.0 / 3.0));
  CHECK(s.nPos == std::vector<int64_t>{1, 1});
  CHECK(s.nTotal == std::vector<int64_t>{3, 3});

  // Generic rules (no control mode): negatives are rows of another
  // treatment; identical rows tie and the lower row index ranks first.
  torch::Tensor t = torch::tensor({1.0, 0.0, 1.0, 0.0, 1.0, 0.0}).reshape({3, 2});
  MetaColumns m2{{0, 1, 1}, {0, 0, 1}};
  PairRules g;
  g.posSameby = {0};
  g.posDiffby = {1};
  g.negDiffby = {0};
  ApScores s2 = averagePrecision(t, m2, g);
  // Rows 1 and 2 are positives of each other; row 0 ties and ranks first for
  // both (it has the lower index): AP 1/2 each. Row 0 has no positive.
  REQUIRE(s2.row == std::vector<int64_t>{1, 2});
  CHECK(s2.ap[0] == doctest::Approx(0.5));
  CHECK(s2.ap[1] == doctest::Approx(0.5));
}

TEST_CASE("AP of several positives counts every negative above each") {
  // Query 0 with positives at similarities 0.9, 0.5 and negatives 0.95, 0.7,
  // 0.1: ranks 2 and 4, AP = (1/2 + 2/4) / 2 = 0.5.
  torch::Tensor q = torch::tensor({1.0, 0.0});
  auto at = [](double c) { return torch::tensor({c, std::sqrt(1 - c * c)}); };
  torch::Tensor x = torch::stack({q, at(0.9), at(0.5), at(0.95), at(0.7), at(0.1)});
  MetaColumns meta{{1, 1, 1, 0, 0, 0}};
  PairRules r;
  r.posSameby = {0};
  r.controls = {false, false, false, true, true, true};
  ApScores s = averagePrecision(x, meta, r, ApOptions{Similarity::Cosine, /*block=*/1});
  REQUIRE(s.row.size() == 3);
  CHECK(s.ap[0] == doctest::Approx(0.5));
  CHECK(apOfRanks({2, 4}) == doctest::Approx(0.5));
}

TEST_CASE("AP with tensor ops (the GPU's engine, here on the CPU) equals the host's counting") {
  // Quantised features tie often, so the lower-row tie break is exercised;
  // both pairing modes, every similarity, blocks that split the queries.
  torch::manual_seed(11);
  const int64_t n = 90;
  torch::Tensor x = torch::randint(-2, 3, {n, 4}).to(torch::kFloat64);
  std::vector<int64_t> treatment(n), plate(n);
  std::vector<bool> controls(n);
  for (int64_t r = 0; r < n; ++r) {
    treatment[r] = r % 9;
    plate[r] = (r / 9) % 3;
    controls[r] = treatment[r] == 0;
  }
  MetaColumns meta{treatment, plate};
  PairRules control;
  control.posSameby = {0};
  control.posDiffby = {1};
  control.controls = controls;
  PairRules generic;
  generic.posSameby = {0};
  generic.negDiffby = {0};
  generic.negSameby = {1};
  for (const PairRules *rules : {&control, &generic})
    for (Similarity sim : {Similarity::Cosine, Similarity::Pearson, Similarity::NegEuclidean,
                           Similarity::NegManhattan, Similarity::AbsCosine}) {
      CAPTURE(static_cast<int>(sim));
      CAPTURE(rules == &control);
      ApOptions host{sim, /*block=*/7};
      ApOptions tensors = host;
      tensors.device = torch::Device(torch::kCPU);
      ApScores a = averagePrecision(x, meta, *rules, host), b = averagePrecision(x, meta, *rules, tensors);
      REQUIRE(a.row.size() > 10);
      CHECK(a.row == b.row);
      CHECK(a.nPos == b.nPos);
      CHECK(a.nTotal == b.nTotal);
      double worst = 0;
      for (size_t i = 0; i < a.ap.size() && i < b.ap.size(); ++i)
        worst = std::max(worst, std::abs(a.ap[i] - b.ap[i]));
      CHECK(worst < 1e-12);
    }
}

TEST_CASE("mAP p-values: a perfect group's exact p is the product of 1 / C(n_total, n_pos); BH") {
  ApScores s;
  s.row = {0, 1, 2};
  s.ap = {1.0, 1.0, 0.2};
  s.nPos = {1, 1, 1};
  s.nTotal = {5, 4, 5};
  MapSummary m = meanAveragePrecision(s, {7, 7, 9}, MapOptions{2000, 3, 0.05, 1e6});
  REQUIRE(m.groups.size() == 2);
  CHECK(m.groups[0].key == 7);
  CHECK(m.groups[0].map == doctest::Approx(1.0));
  CHECK(*m.groups[0].exactP == doctest::Approx(1.0 / 20));
  // One positive among 5: AP is 1/rank, uniform over ranks 1..5; P(AP >= 0.2) = 1.
  CHECK(*m.groups[1].exactP == doctest::Approx(1.0));
  // Monte-Carlo agrees with the exact null within its error.
  CHECK(m.groups[0].pValue == doctest::Approx(1.0 / 20).epsilon(0.5));
  CHECK(m.groups[1].pValue > 0.5);
  std::vector<double> bh = benjaminiHochberg({0.01, 0.04, 0.03, 0.5});
  CHECK(bh[0] == doctest::Approx(0.04));
  CHECK(bh[1] == doctest::Approx(0.04 * 4 / 3));
  CHECK(bh[2] == doctest::Approx(0.04 * 4 / 3));
  CHECK(bh[3] == doctest::Approx(0.5));
}

TEST_CASE("mAP null: exact enumeration agrees with Monte-Carlo for small groups") {
  // Rows 0, 1 (2 positives among 6) share a null draw, as in copairs: the
  // group's null is one AP's, and P(AP >= 0.65) = 5/15 (first positive on top).
  // Rows 2, 3 (among 6 and 7) are independent: 15 x 21 joint configurations;
  // P(mean >= 0.65) = 0.171429 (= 18/105) by enumeration in Python.
  ApScores s;
  s.row = {0, 1, 2, 3};
  s.ap = {0.7, 0.6, 0.7, 0.6};
  s.nPos = {2, 2, 2, 2};
  s.nTotal = {6, 6, 6, 7};
  MapSummary m = meanAveragePrecision(s, {0, 0, 1, 1}, MapOptions{200000, 1, 0.05, 1e6});
  REQUIRE(m.groups[0].exactP.has_value());
  CHECK(*m.groups[0].exactP == doctest::Approx(1.0 / 3));
  CHECK(*m.groups[1].exactP == doctest::Approx(18.0 / 105).epsilon(1e-6));
  // Monte-Carlo p counts null > mAP, exact null >= mAP: no null value ties 0.65 here.
  for (const MapGroup &g : m.groups)
    CHECK(g.pValue == doctest::Approx(*g.exactP).epsilon(0.02));
}

TEST_CASE("mAP on BBBC021 equals copairs 0.4.5 for every treatment") {
  SKIP_WITHOUT_SHARED_DATA("bbbc021_profiles");
  Profiles p;
  REQUIRE(readProfiles((shared / "bbbc021_profiles/BBBC021_feature_selected_mad_robustize.csv.gz").string(),
                       "", p)
              .isOk());
  REQUIRE(p.rows() == 632);
  // treatment = compound@concentration; positives on another plate; negatives DMSO.
  std::vector<std::string> treatment;
  for (int64_t r = 0; r < p.rows(); ++r)
    treatment.push_back((*p.meta("Metadata_Compound"))[r] + "@" + (*p.meta("Metadata_Concentration"))[r]);
  MetaColumns meta{codesOf(treatment), codesOf(*p.meta("Metadata_Plate"))};
  PairRules rules;
  rules.posSameby = {0};
  rules.posDiffby = {1};
  REQUIRE(selectRows(p, {{"Metadata_Compound", {"DMSO"}}}, rules.controls).isOk());
  ApScores s = averagePrecision(p.features, meta, rules);
  MapSummary m = meanAveragePrecision(s, meta[0], MapOptions{10000, 0, 0.05, 2e6});

  // The reference's `indices` count the treatment (non-DMSO) rows only, in
  // file order (the table lists its 330 DMSO wells first).
  std::vector<int64_t> treated;
  for (int64_t r = 0; r < p.rows(); ++r)
    if (!rules.controls[r])
      treated.push_back(r);
  CsvTable ref;
  REQUIRE(readCsv((shared / "bbbc021_profiles/reference_replicate_map.csv").string(), ref).isOk());
  std::map<std::set<int64_t>, const MapGroup *> byRows;
  for (const MapGroup &g : m.groups)
    byRows[std::set<int64_t>(g.rows.begin(), g.rows.end())] = &g;
  REQUIRE(m.groups.size() == ref.rows.size());
  double worst = 0;
  int callsDiffer = 0;
  for (const auto &row : ref.rows) {
    std::set<int64_t> rows;
    std::string list = row[ref.column("indices")];
    for (char &c : list)
      if (c == '[' || c == ']' || c == ',')
        c = ' ';
    std::istringstream in(list);
    for (int64_t r; in >> r;)
      rows.insert(treated.at(r));
    if (!byRows.count(rows)) {
      std::string got;
      for (int64_t r : rows)
        got += std::to_string(r) + " ";
      FAIL("no group with rows " << got);
    }
    const MapGroup &g = *byRows[rows];
    worst = std::max(worst, std::abs(g.map - std::stod(row[ref.column("mean_average_precision")])));
    const double refP = std::stod(row[ref.column("p_value")]);
    // Both are Monte-Carlo estimates from 10,000 draws of the same null.
    CHECK(std::abs(g.pValue - refP) < 4 * std::sqrt(refP * (1 - refP) / 10000) + 2e-4);
    const bool refCall = row[ref.column("below_corrected_p")] == "True";
    // Calls may differ only where the reference p is within Monte-Carlo error of 0.05.
    if (g.belowCorrectedP != refCall) {
      ++callsDiffer;
      CHECK(std::abs(refP - 0.05) < 4 * std::sqrt(0.05 * 0.95 / 10000));
    }
  }
  CHECK(worst < 1e-6);
  MESSAGE("BBBC021: max |mAP - copairs| = " << worst << ", significance calls differing: " << callsDiffer);
  CHECK(m.meanMap == doctest::Approx(0.9073).epsilon(1e-3));
  CHECK(m.fractionRetrieved == doctest::Approx(0.990).epsilon(1e-2));
}

TEST_CASE("cross-modal recall@k, both directions, on a hand-computed case") {
  torch::Tensor q = torch::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 0.1}).reshape({3, 2});
  torch::Tensor c = torch::tensor({1.0, 0.0, 0.0, 1.0, 0.7, 0.7}).reshape({3, 2});
  CrossModalRecall r = crossModalRecall(q, c, {0, 2, 0}, {1, 2});
  // Forward ranks 1, 2, 1 (q1 prefers its c1 to its true c2).
  CHECK(r.forward.recallAt.at(1) == doctest::Approx(2.0 / 3));
  CHECK(r.forward.recallAt.at(2) == doctest::Approx(1.0));
  CHECK(r.forward.meanRank == doctest::Approx(4.0 / 3));
  CHECK(r.forward.medianRank == doctest::Approx(1.0));
  // Reverse: c0's best true query (q0) is first; c2 ranks q2 above q1, and
  // q0 ties q1 with the lower index: rank 3.
  CHECK(r.reverse.queries == 2);
  CHECK(r.reverse.recallAt.at(1) == doctest::Approx(0.5));
  CHECK(r.reverse.meanRank == doctest::Approx(2.0));
  CHECK(r.reverse.medianRank == doctest::Approx(2.0));
}

TEST_CASE("kNN retrieval counts only neighbours from another batch") {
  torch::Tensor x = torch::tensor({1.0, 0.0, 1.0, 0.01, 1.0, 0.1, 0.0, 1.0, 0.2, 1.0}).reshape({5, 2});
  std::vector<int64_t> label{0, 0, 1, 0, 1}, batch{0, 0, 1, 1, 0};
  // k = 1: every row's nearest other-batch row has another label.
  KnnResult k1 = knnRetrieval(x, label, batch, {}, 1);
  CHECK(k1.queries == 5);
  CHECK(k1.accuracy == doctest::Approx(0.0));
  // k = 2: all but row 2 (whose two nearest, rows 0 and 1, are label 0).
  CHECK(knnRetrieval(x, label, batch, {}, 2).accuracy == doctest::Approx(0.8));
  // Excluding row 4 (a control): row 2 has no reachable partner and is not a query.
  KnnResult ex = knnRetrieval(x, label, batch, {false, false, false, false, true}, 2);
  CHECK(ex.queries == 3);
  CHECK(ex.accuracy == doctest::Approx(1.0));
}

TEST_CASE("EFAAR recall: annotated pairs beyond the null's percentiles") {
  // Cosines: 01 = .8, 02 = 0, 03 = -1, 12 = .6, 13 = -.8, 23 = 0.
  torch::Tensor x = torch::tensor({1.0, 0.0, 0.8, 0.6, 0.0, 1.0, -1.0, 0.0}).reshape({4, 2});
  std::vector<std::pair<int64_t, int64_t>> pairs{{0, 1}, {1, 0}, {0, 3}, {1, 2}, {2, 2}};
  auto r = efaarRecall(x, pairs, {{5, 95}, {10, 90}, {20, 80}}, 2);
  REQUIRE(r.has_value());
  CHECK(r->pairs == 3); // deduplicated, self-pairs dropped
  CHECK(r->entities == 4);
  // 5/95 percentiles -0.95 / 0.75: pairs 01 and 03 are in; 12 (0.6) is not.
  CHECK(r->recall.at("5_95") == doctest::Approx(2.0 / 3));
  CHECK(r->recall.at("10_90") == doctest::Approx(2.0 / 3));
  // 20/80: -0.8 / 0.6, inclusive: all three.
  CHECK(r->recall.at("20_80") == doctest::Approx(1.0));
  CHECK_FALSE(efaarRecall(x, pairs, {{5, 95}}, 20).has_value());
}

TEST_CASE("profile stages: median aggregation, robust MAD on controls, feature selection") {
  Profiles p;
  p.metadataNames = {"Metadata_Plate", "Metadata_Well", "Metadata_Compound"};
  p.metadata = {{"P1", "P1", "P1", "P1", "P1", "P1"},
                {"A01", "A01", "A02", "A02", "A03", "A03"},
                {"DMSO", "DMSO", "DMSO", "DMSO", "X", "X"}};
  p.featureNames = {"f", "g"};
  p.features = torch::tensor({1.0, 5.0, 3.0, 5.0, 2.0, 5.0, 6.0, 5.0, 10.0, 5.0, 14.0, 5.0}, torch::kFloat64)
                   .reshape({6, 2});
  REQUIRE(aggregate(p, {"Metadata_Plate", "Metadata_Well"}, "median").isOk());
  REQUIRE(p.rows() == 3);
  CHECK(p.metadataNames == std::vector<std::string>{"Metadata_Plate", "Metadata_Well", "Metadata_Compound"});
  CHECK(p.features[0][0].item<double>() == 2.0);  // median of 1, 3
  CHECK(p.features[2][0].item<double>() == 12.0); // median of 10, 14
  // Controls A01 (2) and A02 (4): median 3, MAD 1; X: (12 - 3) / 1.4826.
  std::vector<bool> controls;
  REQUIRE(selectRows(p, {{"Metadata_Compound", {"DMSO"}}}, controls).isOk());
  REQUIRE(robustMad(p, "Metadata_Plate", controls).isOk());
  CHECK(p.features[2][0].item<double>() == doctest::Approx(9.0 / 1.4826));
  // g is constant: MAD 0, guarded by epsilon; then dropped for zero variance.
  std::vector<std::string> dropped;
  REQUIRE(selectFeatures(p, FeatureSelection{}, dropped).isOk());
  CHECK(dropped == std::vector<std::string>{"g"});
  CHECK(robustMad(p, "Metadata_Batch", controls).message().find("no metadata column `Metadata_Batch`") == 0);
}

TEST_CASE("replicate_map's normalize_by removes each plate's shift and scale before mAP") {
  // Two plates, each with two controls and one well of perturbations 1 and 2;
  // plate 1's profiles are plate 0's scaled by 3 and shifted, as a strong
  // plate effect would leave hand-crafted features.
  torch::manual_seed(0);
  torch::Tensor base = torch::randn({4, 6});
  torch::Tensor controls0 = torch::randn({2, 6}) * 0.1, controls1 = controls0;
  torch::Tensor plate0 = torch::cat({controls0, base[0].unsqueeze(0), base[1].unsqueeze(0)});
  torch::Tensor plate1 = torch::cat({controls1, base[2].unsqueeze(0) * 0.2 + base[0].unsqueeze(0),
                                     base[3].unsqueeze(0) * 0.2 + base[1].unsqueeze(0)});
  torch::Tensor shift = torch::full({1, 6}, 5.0);
  torch::Tensor x = torch::cat({plate0, plate1 * 3 + shift}).to(torch::kFloat32);
  std::vector<int64_t> pert{0, 0, 1, 2, 0, 0, 1, 2}, plate{0, 0, 0, 0, 1, 1, 1, 1};
  std::vector<bool> controls{true, true, false, false, true, true, false, false};
  auto run = [&](bool normalize) {
    nlohmann::json options = {{"sameby", "perturbation"}, {"diffby", "plate"}, {"null_size", 100}};
    if (normalize)
      options["normalize_by"] = "plate";
    nlohmann::json r;
    MetricJob job{"replicates", options,
                  [&](const char *key, std::vector<int64_t> &out) {
                    out = std::string(key) == "sameby" ? pert : plate;
                    return Status::ok();
                  },
                  pert, controls, 0, r, nullptr};
    REQUIRE(replicateMapJob(job, x).isOk());
    return r["map"].get<double>();
  };
  // Raw, every treated well of plate 1 sits far from plate 0's: replicates
  // rank below controls. Normalised to each plate's controls, they pair up.
  CHECK(run(false) < 0.6);
  CHECK(run(true) == doctest::Approx(1.0));
}
