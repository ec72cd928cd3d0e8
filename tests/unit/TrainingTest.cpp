// Schedules and optimisers against their formulas (issue 5, done-when 3).
#include "exec/GraphExecutor.h"
#include "train/GradNorm.h"
#include "train/Optimizer.h"
#include "train/CheckpointManifest.h"
#include "train/Schedule.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace exprt;

namespace {

constexpr double kPi = 3.14159265358979323846;

std::unique_ptr<Schedule> schedule(const char *kind, nlohmann::json params, double base,
                                   int64_t total) {
  TrainSpec spec;
  spec.schedule = kind;
  spec.scheduleParams = std::move(params);
  std::unique_ptr<Schedule> s;
  REQUIRE(Schedule::create(spec, base, total, s).isOk());
  return s;
}

// Two parameters: `w` with weight decay, `b` without (a bias).
struct TwoParams {
  ParameterStore store;
  TwoParams() {
    ParameterSpec w{"w", {3}, "constant", 0};
    ParameterSpec b{"b", {3}, "constant", 0};
    b.decay = false;
    store.initialise({w, b}, 0);
    torch::NoGradGuard g;
    store.get("w").copy_(torch::tensor({0.5, -1.0, 2.0}));
    store.get("b").copy_(torch::tensor({0.1, 0.2, -0.3}));
  }
  void setGrads(double scale) {
    for (const char *n : {"w", "b"}) {
      torch::Tensor p = store.get(n);
      p.mutable_grad() = torch::tensor({1.0, -2.0, 0.5}, torch::kFloat32) * scale;
    }
  }
};

std::vector<double> values(const torch::Tensor &t) {
  torch::Tensor c = t.detach().to(torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::unique_ptr<TrainOptimizer> optimizer(const char *kind, nlohmann::json params,
                                          const ParameterStore &store) {
  TrainSpec spec;
  spec.optimizer = kind;
  spec.optimizerParams = std::move(params);
  std::unique_ptr<TrainOptimizer> o;
  REQUIRE(TrainOptimizer::create(spec, store, o).isOk());
  return o;
}

const double kGrad[3] = {1.0, -2.0, 0.5};

} // namespace

TEST_CASE("constant_lr keeps the optimiser's rate") {
  auto s = schedule("constant_lr", nlohmann::json::object(), 0.01, 100);
  CHECK(s->lr(0) == 0.01);
  CHECK(s->lr(99) == 0.01);
}

TEST_CASE("warmup_cosine: linear warm-up, then cosine to min_lr, with restarts") {
  auto s = schedule("warmup_cosine", {{"warmup_steps", 10}, {"min_lr", 0.1}}, 1.0, 100);
  CHECK(s->lr(0) == doctest::Approx(0.1));
  CHECK(s->lr(4) == doctest::Approx(0.5));
  CHECK(s->lr(9) == doctest::Approx(1.0));
  CHECK(s->lr(10) == doctest::Approx(1.0));
  // t = 45 of 90 steps of decay: halfway down the cosine.
  CHECK(s->lr(55) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(kPi * 0.5))));
  CHECK(s->lr(40) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(kPi * 30 / 90))));
  CHECK(s->lr(99) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(kPi * 89 / 90))));
  // warmup_fraction: 10% of 200 steps.
  auto f = schedule("warmup_cosine", {{"warmup_fraction", 0.1}}, 2.0, 200);
  CHECK(f->lr(9) == doctest::Approx(2.0 * 10 / 20));
  CHECK(f->lr(20) == doctest::Approx(2.0));
  // Restarts every 20 steps after the warm-up.
  auto r = schedule("warmup_cosine", {{"warmup_steps", 10}, {"restart_every", 20}}, 1.0, 100);
  CHECK(r->lr(10) == doctest::Approx(1.0));
  CHECK(r->lr(20) == doctest::Approx(0.5));
  CHECK(r->lr(29) == doctest::Approx(0.5 * (1 + std::cos(kPi * 19 / 20))));
  CHECK(r->lr(30) == doctest::Approx(1.0));
  CHECK(r->lr(70) == doctest::Approx(1.0));
}

TEST_CASE("one_cycle follows PyTorch's OneCycleLR (cosine, two phases)") {
  auto s = schedule("one_cycle", {{"max_lr", 1.0}, {"pct_start", 0.3}}, 0.001, 100);
  const double initial = 1.0 / 25, final = initial / 1e4, up = 0.3 * 100 - 1, end = 99;
  auto anneal = [](double a, double b, double pct) { return b + (a - b) / 2 * (std::cos(kPi * pct) + 1); };
  CHECK(s->lr(0) == doctest::Approx(initial));
  CHECK(s->lr(10) == doctest::Approx(anneal(initial, 1.0, 10 / up)));
  CHECK(s->lr(29) == doctest::Approx(1.0));
  CHECK(s->lr(50) == doctest::Approx(anneal(1.0, final, (50 - up) / (end - up))));
  CHECK(s->lr(99) == doctest::Approx(final));
}

TEST_CASE("reduce_on_plateau cuts the rate after `patience` steps without improvement") {
  auto s = schedule("reduce_on_plateau", {{"patience", 2}, {"factor", 0.5}, {"min_lr", 0.2}},
                    1.0, 100);
  s->observe(1.0); // best
  s->observe(1.0); // 1 bad
  s->observe(0.99995); // within the 1e-4 relative threshold: 2 bad
  CHECK(s->lr(3) == 1.0);
  s->observe(1.0); // 3 bad > patience
  CHECK(s->lr(4) == 0.5);
  s->observe(0.5); // improves
  for (int i = 0; i < 3; ++i)
    s->observe(0.6);
  CHECK(s->lr(8) == 0.25);
  nlohmann::json saved = s->state();
  for (int i = 0; i < 3; ++i)
    s->observe(0.6);
  CHECK(s->lr(11) == 0.2); // floored at min_lr
  auto t = schedule("reduce_on_plateau", {{"patience", 2}, {"factor", 0.5}, {"min_lr", 0.2}},
                    1.0, 100);
  REQUIRE(t->restore(saved).isOk());
  CHECK(t->lr(0) == 0.25);
  for (int i = 0; i < 3; ++i)
    t->observe(0.6);
  CHECK(t->lr(0) == 0.2);
  CHECK_FALSE(t->restore(nlohmann::json::object()).isOk());
}

// Issue 31 (found by fuzz_reader_manifest): a manifest field of the wrong
// type (an object where a string belongs) threw out of nlohmann's value()
// and ended the process; each is now a refusal naming the file.
TEST_CASE("a checkpoint manifest with fields of the wrong type is refused, naming it") {
  const std::string path = (std::filesystem::temp_directory_path() / "exp-manifest-types.json").string();
  const std::string good = R"("format": "exp-checkpoint", "format_version": 1, "plan_sha256": "p", "step": 1,)"
                           R"( "batch": 1, "epoch_loss_sum": 0, "epoch_batches": 1, "early_stopping": {"best_epoch": 0,)"
                           R"( "best_val_loss": 0, "bad_epochs": 0, "stopped": false})";
  for (const std::string &text : {std::string(R"({"format": {"a": 1}})"), std::string(R"({"format": 7})"),
                                  "{" + good + R"(, "plan_sha256": ["p"]})", "{" + good + R"(, "step": "one"})"}) {
    std::ofstream(path) << text;
    auto s = schedule("constant_lr", nlohmann::json::object(), 1.0, 10);
    exprt::TrainState state;
    std::string sha;
    exprt::Status st = exprt::readCheckpointManifest(path, "p", *s, state, sha);
    INFO(text);
    CHECK_FALSE(st.isOk());
    CHECK(st.message().rfind(path + ": ", 0) == 0);
    CHECK((st.kind() == exprt::ErrorKind::CheckpointInvalid || st.kind() == exprt::ErrorKind::CheckpointMismatch));
  }
  std::ofstream(path) << "{" + good + "}";
  auto s = schedule("constant_lr", nlohmann::json::object(), 1.0, 10);
  exprt::TrainState state;
  std::string sha;
  CHECK(exprt::readCheckpointManifest(path, "p", *s, state, sha).isOk());
  std::filesystem::remove(path);
}

TEST_CASE("AdamW: decoupled weight decay on weights only, bias-corrected moments") {
  TwoParams p;
  const double lr = 0.1, wd = 0.5, b1 = 0.9, b2 = 0.99, eps = 1e-8;
  auto o = optimizer("adamw", {{"lr", lr}, {"weight_decay", wd}, {"beta1", b1}, {"beta2", b2}, {"eps", eps}},
                     p.store);
  std::vector<double> w = values(p.store.get("w")), b = values(p.store.get("b"));
  std::vector<double> m(3, 0), v(3, 0);
  std::vector<double> mb(3, 0), vb(3, 0);
  for (int t = 1; t <= 3; ++t) {
    p.setGrads(t);
    o->step();
    for (int i = 0; i < 3; ++i) {
      double g = kGrad[i] * t;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      double step = lr * (m[i] / (1 - std::pow(b1, t))) / (std::sqrt(v[i] / (1 - std::pow(b2, t))) + eps);
      w[i] = w[i] * (1 - lr * wd) - step;
      b[i] = b[i] - step; // no decay on biases
    }
  }
  std::vector<double> gotW = values(p.store.get("w")), gotB = values(p.store.get("b"));
  for (int i = 0; i < 3; ++i) {
    CHECK(gotW[i] == doctest::Approx(w[i]).epsilon(1e-5));
    CHECK(gotB[i] == doctest::Approx(b[i]).epsilon(1e-5));
  }
}

TEST_CASE("SGD with momentum and Nesterov momentum") {
  for (bool nesterov : {false, true}) {
    TwoParams p;
    const double lr = 0.1, mu = 0.9, wd = 0.01;
    auto o = optimizer("sgd", {{"lr", lr}, {"momentum", mu}, {"weight_decay", wd}, {"nesterov", nesterov}},
                       p.store);
    std::vector<double> w = values(p.store.get("w")), buf(3, 0);
    for (int t = 1; t <= 3; ++t) {
      p.setGrads(t);
      o->step();
      for (int i = 0; i < 3; ++i) {
        double g = kGrad[i] * t + wd * w[i];
        buf[i] = t == 1 ? g : mu * buf[i] + g;
        w[i] -= lr * (nesterov ? g + mu * buf[i] : buf[i]);
      }
    }
    std::vector<double> got = values(p.store.get("w"));
    for (int i = 0; i < 3; ++i)
      CHECK(got[i] == doctest::Approx(w[i]).epsilon(1e-5));
  }
}

TEST_CASE("LAMB: Adam direction plus weight decay, scaled by the trust ratio") {
  TwoParams p;
  const double lr = 0.05, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-6;
  auto o = optimizer("lamb", {{"lr", lr}, {"weight_decay", wd}, {"beta1", b1}, {"beta2", b2}, {"eps", eps}},
                     p.store);
  std::vector<double> w = values(p.store.get("w")), m(3, 0), v(3, 0);
  for (int t = 1; t <= 3; ++t) {
    p.setGrads(t);
    o->step();
    std::vector<double> u(3);
    double wn = 0, un = 0;
    for (int i = 0; i < 3; ++i) {
      double g = kGrad[i] * t;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      u[i] = (m[i] / (1 - std::pow(b1, t))) / (std::sqrt(v[i] / (1 - std::pow(b2, t))) + eps) + wd * w[i];
      wn += w[i] * w[i];
      un += u[i] * u[i];
    }
    double trust = std::sqrt(wn) / std::sqrt(un);
    for (int i = 0; i < 3; ++i)
      w[i] -= lr * trust * u[i];
  }
  std::vector<double> got = values(p.store.get("w"));
  for (int i = 0; i < 3; ++i)
    CHECK(got[i] == doctest::Approx(w[i]).epsilon(1e-5));
}

TEST_CASE("optimiser state round-trips: a restored optimiser continues identically") {
  for (const char *kind : {"adamw", "sgd", "lamb"}) {
    TwoParams a, b;
    auto oa = optimizer(kind, {{"lr", 0.05}, {"weight_decay", 0.1}}, a.store);
    auto ob = optimizer(kind, {{"lr", 0.05}, {"weight_decay", 0.1}}, b.store);
    for (int t = 1; t <= 2; ++t) {
      a.setGrads(t);
      oa->step();
    }
    std::map<std::string, torch::Tensor> state;
    oa->save(state);
    CHECK(state.count("optim/w/" + std::string(std::string(kind) == "sgd" ? "momentum_buffer" : "exp_avg")));
    {
      torch::NoGradGuard g;
      for (const char *n : {"w", "b"})
        b.store.get(n).copy_(a.store.get(n));
    }
    REQUIRE(ob->restore(state).isOk());
    a.setGrads(3);
    b.setGrads(3);
    oa->step();
    ob->step();
    CHECK(torch::equal(a.store.get("w"), b.store.get("w")));
    CHECK(torch::equal(a.store.get("b"), b.store.get("b")));
    // A mis-shaped slot is refused, naming it.
    std::map<std::string, torch::Tensor> bad = state;
    for (auto &[name, t] : bad)
      if (name.rfind("optim/w/", 0) == 0 && t.dim() == 1)
        t = torch::zeros({5});
    Status s = ob->restore(bad);
    CHECK_FALSE(s.isOk());
    CHECK(s.message().find("optim/w/") != std::string::npos);
  }
}

TEST_CASE("set_lr reaches every parameter group") {
  TwoParams p;
  auto o = optimizer("sgd", {{"lr", 1.0}, {"momentum", 0.0}}, p.store);
  o->setLr(0.5);
  std::vector<double> w = values(p.store.get("w")), b = values(p.store.get("b"));
  p.setGrads(1);
  o->step();
  std::vector<double> gw = values(p.store.get("w")), gb = values(p.store.get("b"));
  for (int i = 0; i < 3; ++i) {
    CHECK(gw[i] == doctest::Approx(w[i] - 0.5 * kGrad[i]));
    CHECK(gb[i] == doctest::Approx(b[i] - 0.5 * kGrad[i]));
  }
}

TEST_CASE("AdamW split for CUDA graphs (host coefficients, then the update from them) equals its step") {
  // What a captured step runs: nextCoefficients on the host, stepWith in the
  // graph. Mixed with plain steps (the eager warm-up before capture) and a
  // changing learning rate (the schedule), it must track `step` exactly.
  TwoParams eager, split;
  nlohmann::json cfg = {{"lr", 0.1}, {"weight_decay", 0.3}, {"beta1", 0.8}, {"beta2", 0.95}};
  auto a = optimizer("adamw", cfg, eager.store), b = optimizer("adamw", cfg, split.store);
  REQUIRE(b->capturable());
  CHECK(b->groupCount() == 2);
  CHECK_FALSE(optimizer("sgd", {{"lr", 0.1}}, split.store)->capturable());
  for (int t = 1; t <= 6; ++t) {
    const double lr = 0.1 / t;
    a->setLr(lr);
    b->setLr(lr);
    eager.setGrads(t);
    split.setGrads(t);
    a->step();
    if (t <= 2) {
      b->step();
    } else {
      torch::Tensor c = b->nextCoefficients();
      REQUIRE(c.sizes() == torch::IntArrayRef({2, 3}));
      CHECK(c[0][0].item<double>() == doctest::Approx(1 - lr * 0.3)); // weights decay
      CHECK(c[1][0].item<double>() == doctest::Approx(1.0));          // biases do not
      CHECK(c[0][1].item<double>() == doctest::Approx(lr / (1 - std::pow(0.8, t))));
      CHECK(c[0][2].item<double>() == doctest::Approx(1 / std::sqrt(1 - std::pow(0.95, t))));
      b->stepWith(c);
    }
  }
  for (const char *n : {"w", "b"}) {
    std::vector<double> want = values(eager.store.get(n)), got = values(split.store.get(n));
    for (int i = 0; i < 3; ++i)
      CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  }
  // Both keep the same state, so checkpoints do not care which ran.
  std::map<std::string, torch::Tensor> sa, sb;
  a->save(sa);
  b->save(sb);
  REQUIRE(sa.size() == sb.size());
  for (const auto &[name, t] : sa)
    CHECK_MESSAGE(torch::allclose(t.to(torch::kFloat64), sb.at(name).to(torch::kFloat64), 1e-6, 1e-9), name);
}

TEST_CASE("the on-device gradient norm equals clip_grad_norm_'s, clipping included") {
  for (double max : {0.0, 1.0, 100.0}) {
    CAPTURE(max);
    TwoParams host, device;
    host.setGrads(2);
    device.setGrads(2);
    const std::vector<torch::Tensor> hp = host.store.trainable(), dp = device.store.trainable();
    const double want = gradientNorm(hp, max);
    const torch::Tensor got = gradientNormTensor(dp, max);
    CHECK(got.dim() == 0);
    CHECK(got.item<double>() == doctest::Approx(want).epsilon(1e-6));
    CHECK(want == doctest::Approx(std::sqrt(2 * 4 * (1 + 4 + 0.25))).epsilon(1e-6));
    for (size_t i = 0; i < hp.size(); ++i)
      CHECK(torch::allclose(hp[i].grad(), dp[i].grad(), 1e-6, 1e-7));
    if (max == 1.0) // clipped to norm 1
      CHECK(gradientNormTensor(dp, 0).item<double>() == doctest::Approx(1.0).epsilon(1e-5));
  }
}
