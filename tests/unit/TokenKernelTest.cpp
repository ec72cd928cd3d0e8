// The transformer kernels against direct float64 implementations of their
// definitions (StepOps.td): patch embedding as explicit patch dot products,
// attention as per-head softmax(q k^T / sqrt(dh)) v written out by hand.
#include "exec/GraphExecutor.h"
#include "exec/Kernels.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

using namespace exprt;

namespace {

torch::Tensor run(const char *op, const std::vector<torch::Tensor> &in, const OpAttrs &a) {
  int k = findKernel(op);
  REQUIRE(k >= 0);
  REQUIRE(kernelArity(k) == in.size());
  ParameterStore none;
  return kernelFunction(k)(in, a, none);
}

torch::Tensor f64(const torch::Tensor &t) { return t.to(torch::kFloat64); }

} // namespace

TEST_CASE("patch_embed is one linear map per row-major patch, with leading dims kept") {
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({2, 3, 2, 8, 12}); // 2 rows, bags of 3, 2 channels
  torch::Tensor w = torch::randn({5, 2, 4, 4}), b = torch::randn({5});
  OpAttrs a;
  a.patch = 4;
  torch::Tensor y = run("patch_embed", {x, w, b}, a);
  REQUIRE(y.sizes() == torch::IntArrayRef({2, 3, 6, 5}));
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t s = 0; s < 3; ++s)
      for (int64_t t = 0; t < 6; ++t) {
        int64_t py = t / 3, px = t % 3; // row-major over the 2x3 patch grid
        torch::Tensor patch = f64(x[r][s].slice(1, py * 4, py * 4 + 4).slice(2, px * 4, px * 4 + 4));
        torch::Tensor want = (f64(w) * patch.unsqueeze(0)).sum({1, 2, 3}) + f64(b);
        CHECK(torch::allclose(f64(y[r][s][t]), want, 1e-4, 1e-4));
      }
}

TEST_CASE("attention is per-head scaled dot-product attention within each sequence") {
  torch::manual_seed(2);
  const int64_t n = 5, d = 8, heads = 2, dh = d / heads;
  torch::Tensor x = torch::randn({3, n, d});
  torch::Tensor wqkv = torch::randn({3 * d, d}) * 0.3, bqkv = torch::randn({3 * d}) * 0.1;
  torch::Tensor wo = torch::randn({d, d}) * 0.3, bo = torch::randn({d}) * 0.1;
  OpAttrs a;
  a.heads = heads;
  torch::Tensor y = run("attention", {x, wqkv, bqkv, wo, bo}, a);
  REQUIRE(y.sizes() == x.sizes());
  for (int64_t r = 0; r < 3; ++r) {
    torch::Tensor qkv = torch::matmul(f64(x[r]), f64(wqkv).t()) + f64(bqkv); // (n, 3d)
    std::vector<torch::Tensor> outs;
    for (int64_t h = 0; h < heads; ++h) {
      torch::Tensor q = qkv.slice(1, h * dh, (h + 1) * dh);
      torch::Tensor k = qkv.slice(1, d + h * dh, d + (h + 1) * dh);
      torch::Tensor v = qkv.slice(1, 2 * d + h * dh, 2 * d + (h + 1) * dh);
      torch::Tensor s = torch::matmul(q, k.t()) / std::sqrt(double(dh));
      torch::Tensor p = torch::exp(s - std::get<0>(s.max(1, true)));
      outs.push_back(torch::matmul(p / p.sum(1, true), v));
    }
    torch::Tensor want = torch::matmul(torch::cat(outs, 1), f64(wo).t()) + f64(bo);
    CHECK(torch::allclose(f64(y[r]), want, 1e-4, 1e-5));
  }
  // Rows do not attend to each other: changing row 0 leaves row 1 alone.
  torch::Tensor x2 = x.clone();
  x2[0] += 1;
  CHECK(torch::equal(run("attention", {x2, wqkv, bqkv, wo, bo}, a)[1], y[1]));
}

TEST_CASE("tokens: prepend, position, take and mean") {
  torch::Tensor x = torch::arange(2 * 3 * 4, torch::kFloat32).reshape({2, 3, 4});
  torch::Tensor cls = torch::full({4}, -1.0f);
  OpAttrs a;
  torch::Tensor t = run("prepend_token", {x, cls}, a);
  REQUIRE(t.sizes() == torch::IntArrayRef({2, 4, 4}));
  CHECK(torch::equal(t.select(1, 0), cls.expand({2, 4})));
  CHECK(torch::equal(t.slice(1, 1), x));
  torch::Tensor pos = torch::ones({3, 4});
  CHECK(torch::equal(run("add_position", {x, pos}, a), x + 1));
  a.index = 2;
  CHECK(torch::equal(run("take_token", {x}, a), x.select(1, 2)));
  a.from = 1;
  CHECK(torch::allclose(run("mean_tokens", {x}, a), (x.select(1, 1) + x.select(1, 2)) / 2));
}

TEST_CASE("gated_attention_pool is Ilse et al.'s pooling, per channel, over bag instances") {
  torch::manual_seed(3);
  const int64_t m = 4, c = 3, d = 5, h = 6;
  torch::Tensor x = torch::randn({2, m, c, d});
  torch::Tensor v = torch::randn({h, d}) * 0.5, vb = torch::randn({h}) * 0.1;
  torch::Tensor u = torch::randn({h, d}) * 0.5, ub = torch::randn({h}) * 0.1, w = torch::randn({h});
  OpAttrs a;
  torch::Tensor y = run("gated_attention_pool", {x, v, vb, u, ub, w}, a);
  REQUIRE(y.sizes() == torch::IntArrayRef({2, c, d}));
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t ch = 0; ch < c; ++ch) {
      std::vector<double> s;
      for (int64_t k = 0; k < m; ++k) {
        torch::Tensor xk = f64(x[r][k][ch]);
        torch::Tensor g = torch::tanh(torch::mv(f64(v), xk) + f64(vb)) *
                          torch::sigmoid(torch::mv(f64(u), xk) + f64(ub));
        s.push_back(torch::dot(g, f64(w)).item<double>());
      }
      double mx = *std::max_element(s.begin(), s.end()), z = 0;
      for (double &e : s)
        z += (e = std::exp(e - mx));
      torch::Tensor want = torch::zeros({d}, torch::kFloat64);
      for (int64_t k = 0; k < m; ++k)
        want += s[k] / z * f64(x[r][k][ch]);
      CHECK(torch::allclose(f64(y[r][ch]), want, 1e-4, 1e-5));
    }
}

TEST_CASE("batch_norm: batch statistics and a running update while training, running statistics otherwise") {
  torch::manual_seed(3);
  torch::Tensor x = torch::randn({4, 2, 3, 5, 5}) * 3 + 1; // rows, per-channel images, 3 channels
  torch::Tensor w = torch::randn({3}), b = torch::randn({3});
  torch::Tensor mean = torch::zeros({3}), var = torch::ones({3});
  OpAttrs a;
  a.training = true;
  a.momentum = 0.1;
  a.eps = 1e-5;
  torch::Tensor y = run("batch_norm", {x, w, b, mean, var}, a);
  // Statistics per channel over rows, leading dims and pixels.
  torch::Tensor flat = f64(x).transpose(0, 2).reshape({3, -1});
  torch::Tensor mu = flat.mean(1), sigma2 = flat.var(1, /*unbiased=*/false);
  torch::Tensor want = (f64(x) - mu.view({3, 1, 1})) / (sigma2 + 1e-5).sqrt().view({3, 1, 1}) * f64(w).view({3, 1, 1}) +
                       f64(b).view({3, 1, 1});
  CHECK(torch::allclose(f64(y), want, 1e-4, 1e-4));
  // nn.BatchNorm's update: the unbiased variance, momentum 0.1.
  CHECK(torch::allclose(f64(mean), 0.1 * mu, 1e-5, 1e-5));
  CHECK(torch::allclose(f64(var), 0.9 + 0.1 * flat.var(1, /*unbiased=*/true), 1e-4, 1e-4));
  a.training = false;
  torch::Tensor before = mean.clone();
  torch::Tensor z = run("batch_norm", {x, w, b, mean, var}, a);
  CHECK(torch::equal(mean, before));
  torch::Tensor wantEval = (f64(x) - f64(mean).view({3, 1, 1})) / (f64(var) + 1e-5).sqrt().view({3, 1, 1}) *
                               f64(w).view({3, 1, 1}) + f64(b).view({3, 1, 1});
  CHECK(torch::allclose(f64(z), wantEval, 1e-4, 1e-4));
}

TEST_CASE("insert_tokens puts k tokens at position `at`; avg_pool2d averages windows") {
  torch::Tensor x = torch::arange(2 * 3 * 2, torch::kFloat32).view({2, 3, 2});
  torch::Tensor t = -torch::arange(2 * 2 * 2, torch::kFloat32).view({2, 2, 2}) - 1;
  OpAttrs a;
  a.at = 1;
  torch::Tensor y = run("insert_tokens", {x, t}, a);
  REQUIRE(y.sizes() == torch::IntArrayRef({2, 5, 2}));
  CHECK(torch::equal(y[1][0], x[1][0]));
  CHECK(torch::equal(y[1].slice(0, 1, 3), t[1]));
  CHECK(torch::equal(y[1].slice(0, 3, 5), x[1].slice(0, 1, 3)));
  OpAttrs p;
  p.kernel = 2;
  p.stride = 2;
  torch::Tensor im = torch::arange(16, torch::kFloat32).view({1, 1, 4, 4});
  torch::Tensor pooled = run("avg_pool2d", {im}, p);
  CHECK(torch::equal(pooled.view({4}), torch::tensor({2.5f, 4.5f, 10.5f, 12.5f})));
}

TEST_CASE("hand_crafted: 9C + 4 features per image, per channel over extra leading dims, no gradient") {
  torch::manual_seed(3);
  torch::Tensor x = torch::rand({2, 3, 16, 16}); // 2 rows, 3 channels
  OpAttrs a;
  torch::Tensor y = run("hand_crafted", {x}, a);
  REQUIRE(y.sizes() == torch::IntArrayRef({2, 9 * 3 + 4}));
  CHECK(!y.requires_grad());
  // Feature 0 is the first channel's mean intensity.
  CHECK(y[0][0].item<double>() == doctest::Approx(x[0][0].mean().item<double>()).epsilon(1e-5));
  // Per channel (MICON-style per_channel input [N, C, 1, H, W]): each
  // channel's own 13 features, the same as that channel alone.
  torch::Tensor per = run("hand_crafted", {x.unsqueeze(2)}, a);
  REQUIRE(per.sizes() == torch::IntArrayRef({2, 3, 13}));
  torch::Tensor alone = run("hand_crafted", {x.select(1, 2).unsqueeze(1)}, a);
  CHECK(torch::allclose(per.select(1, 2), alone));
}
