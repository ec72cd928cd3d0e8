// The training data pipeline and its faults: augmentations do what they say, are drawn
// from the seed alone, and batches built on worker threads are the batches.
#include "data/Augment.h"
#include "data/Pairing.h"
#include "data/Prefetch.h"
#include "data/Random.h"
#include "data/simulator/SimulatedScreen.h"
#include "exec/Faults.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <atomic>
#include <stdexcept>

using namespace exprt;

namespace {

torch::Tensor images(int64_t n, int64_t c, int64_t h, int64_t w) {
  return torch::arange(n * c * h * w, torch::kFloat32).reshape({n, c, h, w});
}

bool sameValuesSorted(const torch::Tensor &a, const torch::Tensor &b) {
  return torch::equal(std::get<0>(a.flatten().sort()), std::get<0>(b.flatten().sort()));
}

} // namespace

TEST_CASE("no augmentation leaves images unchanged") {
  torch::Tensor x = images(4, 3, 8, 8);
  CHECK(torch::equal(augmentImages(x, AugmentSpec{}, 1), x));
}

TEST_CASE("flips and quarter turns permute each image's pixels within its channel") {
  AugmentSpec spec;
  spec.flip = true;
  spec.rot90 = true;
  torch::Tensor x = images(16, 2, 6, 6);
  torch::Tensor y = augmentImages(x, spec, 7);
  REQUIRE(y.sizes() == x.sizes());
  int changed = 0;
  for (int64_t i = 0; i < 16; ++i)
    for (int64_t c = 0; c < 2; ++c) {
      CHECK(sameValuesSorted(x[i][c], y[i][c]));
      // One of the eight symmetries of the square.
      bool found = false;
      for (int64_t k = 0; k < 4 && !found; ++k)
        for (bool f : {false, true}) {
          torch::Tensor t = torch::rot90(f ? x[i][c].flip({-1}) : x[i][c], k, {-2, -1});
          found = found || torch::equal(t, y[i][c]);
        }
      CHECK(found);
    }
  for (int64_t i = 0; i < 16; ++i)
    changed += !torch::equal(x[i], y[i]);
  CHECK(changed >= 8); // 1/8 of draws are the identity
}

TEST_CASE("non-square images keep their shape under rot90") {
  AugmentSpec spec;
  spec.rot90 = true;
  torch::Tensor x = images(8, 1, 4, 6);
  CHECK(augmentImages(x, spec, 3).sizes() == x.sizes());
}

TEST_CASE("intensity jitter is a per-channel affine map within its bounds") {
  AugmentSpec spec;
  spec.intensity = 0.2;
  torch::manual_seed(5);
  torch::Tensor x = torch::randn({4, 3, 5, 5}, torch::kFloat64).to(torch::kFloat32);
  torch::Tensor y = augmentImages(x, spec, 11);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t c = 0; c < 3; ++c) {
      // Fit y = a x + b from the darkest and brightest pixels (well apart, so
      // float32 rounding cannot skew the slope); every pixel must follow it.
      torch::Tensor xs = x[i][c].flatten().to(torch::kFloat64), ys = y[i][c].flatten().to(torch::kFloat64);
      int64_t lo = xs.argmin().item<int64_t>(), hi = xs.argmax().item<int64_t>();
      double a = ((ys[hi] - ys[lo]) / (xs[hi] - xs[lo])).item<double>();
      double b = (ys[lo] - a * xs[lo]).item<double>();
      CHECK(torch::allclose(ys, a * xs + b, 1e-4, 1e-5));
      CHECK(a >= 0.8 - 1e-6);
      CHECK(a <= 1.2 + 1e-6);
      CHECK(std::abs(b) <= 0.2 + 1e-6);
    }
}

TEST_CASE("a random resized crop of a constant image is that constant, at the image's size") {
  AugmentSpec spec;
  spec.crop = 0.3;
  torch::Tensor x = torch::full({6, 2, 12, 12}, 2.5f);
  torch::Tensor y = augmentImages(x, spec, 5);
  CHECK(y.sizes() == x.sizes());
  CHECK(torch::allclose(y, x));
  // On a gradient image the crop zooms in: values change.
  torch::Tensor g = images(6, 1, 12, 12);
  CHECK(!torch::equal(augmentImages(g, spec, 5), g));
}

TEST_CASE("the draws depend on the seed only; bags keep their shape") {
  AugmentSpec spec;
  spec.crop = 0.5;
  spec.flip = true;
  spec.rot90 = true;
  spec.intensity = 0.1;
  torch::Tensor x = torch::rand({3, 4, 2, 8, 8}); // 3 bags of 4 sites
  torch::Tensor a = augmentImages(x, spec, batchSeed(0, 5, "image"));
  CHECK(a.sizes() == x.sizes());
  CHECK(torch::equal(a, augmentImages(x, spec, batchSeed(0, 5, "image"))));
  CHECK(!torch::equal(a, augmentImages(x, spec, batchSeed(0, 6, "image"))));
  CHECK(!torch::equal(a, augmentImages(x, spec, batchSeed(1, 5, "image"))));
  CHECK(batchSeed(0, 5, "treated1") != batchSeed(0, 5, "control1"));
}

TEST_CASE("prefetched batches equal batches built in place, in order, for any worker count") {
  auto make = [](int64_t b) {
    Batch out;
    out["x"] = torch::full({2}, static_cast<float>(b * b));
    return out;
  };
  for (int workers : {0, 1, 3}) {
    BatchPrefetcher p(workers, 4);
    for (int64_t b = 0; b < 20; ++b) {
      int64_t last = (b / 7) * 7 + 6; // "epochs" of 7 batches
      Batch got = p.take(b, last, make);
      CHECK(got.at("x")[0].item<float>() == static_cast<float>(b * b));
    }
  }
}

TEST_CASE("prefetching stops at the epoch's last batch and rethrows a worker's error") {
  std::atomic<int64_t> highest{-1};
  auto make = [&](int64_t b) {
    int64_t h = highest.load();
    while (b > h && !highest.compare_exchange_weak(h, b)) {
    }
    if (b == 3)
      throw std::runtime_error("corrupt image in batch 3");
    return Batch{{"x", torch::zeros({1})}};
  };
  BatchPrefetcher p(2, 8);
  p.take(0, 2, make);
  p.take(1, 2, make);
  p.take(2, 2, make);
  CHECK(highest.load() == 2);
  CHECK_THROWS_WITH(p.take(3, 9, make), "corrupt image in batch 3");
}

TEST_CASE("out-of-memory exceptions become what was asked for") {
  std::runtime_error cpu("[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't "
                         "allocate memory: you tried to allocate 167772160 bytes. Error code 12");
  CHECK(outOfMemory(cpu) == "tried to allocate 160.0 MiB");
  std::runtime_error cuda("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total)");
  CHECK(outOfMemory(cuda) == "tried to allocate 2.00 GiB");
  CHECK(outOfMemory(std::bad_alloc()) == "an allocation failed");
  CHECK(outOfMemory(std::runtime_error("shape mismatch")).empty());
}

TEST_CASE("group sampling falls back level by level and never draws the row itself") {
  // Rows 0-7: plate = row / 4 (plates 0, 1); batch 0 for all. Candidates
  // (controls): 1 and 2 on plate 0, 6 on plate 1; none elsewhere.
  std::vector<int64_t> plate = {0, 0, 0, 0, 1, 1, 1, 1}, batch(8, 0), plate2 = {0, 0, 0, 0, 1, 1, 2, 2};
  GroupSampler s({plate, batch}, {1, 2, 6});
  for (uint64_t r = 0; r < 50; ++r) {
    int64_t got = s.draw(0, splitmix64(r));
    CHECK((got == 1 || got == 2)); // the same plate first
    CHECK(s.draw(4, splitmix64(r)) == 6);
    CHECK(s.draw(1, splitmix64(r)) == 2); // never itself
  }
  // Row 4's plate has no candidate at level 0: the batch level decides.
  GroupSampler t({plate2, batch}, {1, 2, 6});
  bool sawOther = false;
  for (uint64_t r = 0; r < 50; ++r) {
    int64_t got = t.draw(4, splitmix64(r));
    CHECK((got == 1 || got == 2 || got == 6));
    sawOther = sawOther || got != 6;
  }
  CHECK(sawOther);
  CHECK(GroupSampler({plate}, {3}).draw(3, 1) == -1); // alone in its group, nothing else
}

TEST_CASE("MICON pairing on the simulated screen: controls from the plate, siblings of the perturbation") {
  nlohmann::json params = {{"seed", 1}, {"plates", 3}, {"holdout_plates", 1}, {"perturbations", 5},
                           {"replicates", 2}, {"controls", 2}, {"sites", 2}, {"image_size", 16},
                           {"pairing", "micon"}};
  Screen screen;
  REQUIRE(generateSimulatedScreen(params, screen).isOk());
  REQUIRE(screen.paired);
  const int64_t *pert = screen.perturbation.data_ptr<int64_t>();
  const int64_t *plate = screen.plate.data_ptr<int64_t>();
  for (int64_t s : screen.trainSites)
    CHECK(pert[s] != 0); // rows are treated sites
  torch::Tensor sites = torch::tensor(screen.trainSites, torch::kInt64);
  // Which site each drawn image is: images are distinct per site.
  auto siteOf = [&](const torch::Tensor &img) {
    for (int64_t s = 0; s < screen.images.size(0); ++s)
      if (torch::equal(screen.images[s], img))
        return s;
    return int64_t(-1);
  };
  torch::Tensor c1 = screen.column("control1", sites, 7), t2 = screen.column("treated2", sites, 7);
  torch::Tensor c2 = screen.column("control2", sites, 7);
  for (int64_t i = 0; i < sites.size(0); ++i) {
    int64_t row = screen.trainSites[i], c = siteOf(c1[i]), t = siteOf(t2[i]), c2s = siteOf(c2[i]);
    CHECK(pert[c] == 0);
    CHECK(plate[c] == plate[row]);
    CHECK(pert[t] == pert[row]);
    CHECK(t != row);
    CHECK(pert[c2s] == 0);
    CHECK(plate[c2s] == plate[t]);
  }
  CHECK(torch::equal(c1, screen.column("control1", sites, 7))); // a function of the draw
  CHECK(!torch::equal(c1, screen.column("control1", sites, 8)));
  // Per site, not per call: a sub-batch draws what the whole batch drew.
  CHECK(torch::equal(c1.slice(0, 3, 5), screen.column("control1", sites.slice(0, 3, 5), 7)));
}

TEST_CASE("bags of sites: rows are wells, each bag holds distinct sites of its well") {
  nlohmann::json params = {{"seed", 2}, {"plates", 3}, {"holdout_plates", 1}, {"perturbations", 4},
                           {"replicates", 2}, {"controls", 2}, {"sites", 3}, {"image_size", 16}};
  Screen screen;
  REQUIRE(generateSimulatedScreen(params, screen).isOk());
  const size_t sitesBefore = screen.trainSites.size();
  bagSites(screen, 2);
  CHECK(screen.trainSites.size() * 3 == sitesBefore); // one row per well
  torch::Tensor rows = torch::tensor(screen.trainSites, torch::kInt64);
  torch::Tensor bags = screen.column("image", rows, 5);
  REQUIRE(bags.sizes() == torch::IntArrayRef({rows.size(0), 2, 3, 16, 16}));
  const int64_t *well = screen.well.data_ptr<int64_t>();
  bool varies = false;
  for (int64_t i = 0; i < rows.size(0); ++i) {
    std::vector<int64_t> found;
    for (int64_t k = 0; k < 2; ++k)
      for (int64_t s : screen.wellSites.at(well[screen.trainSites[i]]))
        if (torch::equal(screen.images[s], bags[i][k]))
          found.push_back(s);
    REQUIRE(found.size() == 2); // both from the row's well
    CHECK(found[0] != found[1]);
    varies = varies || !torch::equal(bags[i], screen.column("image", rows.slice(0, i, i + 1), 6)[0]);
  }
  CHECK(varies); // another draw, other sites
  CHECK(torch::equal(bags.slice(0, 2, 4), screen.column("image", rows.slice(0, 2, 4), 5)));
}
