#include "data/simulator/SimulatedScreen.h"
#include "exec/Faults.h"
#include "exec/GraphExecutor.h"
#include "exec/Kernels.h"
#include "plan/Plan.h"
#include "train/Trainer.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>

using namespace exprt;

namespace {

// A minimal valid plan with one graph computing CLIP over two inputs.
nlohmann::json clipPlan() {
  using nlohmann::json;
  auto op = [](const char *name, std::vector<int> in, int out, json attrs = json::object()) {
    return json{{"op", name}, {"operands", in}, {"results", {out}}, {"attrs", attrs}};
  };
  json ops = json::array({
      op("l2_normalize", {0}, 2), op("l2_normalize", {1}, 3),
      op("matmul", {2, 3}, 4, {{"transpose_b", true}}),
      op("param", {}, 5, {{"parameter", "s"}}), op("exp", {5}, 6), op("mul", {4, 6}, 7),
      op("arange_rows", {7}, 8), op("cross_entropy", {7, 8}, 9), op("transpose", {7}, 10),
      op("cross_entropy", {10, 8}, 11), op("add", {9, 11}, 12),
      op("constant", {}, 13, {{"value", 0.5}}), op("mul", {12, 13}, 14)});
  json graph = {{"inputs", {{{"id", 0}, {"column", "a"}, {"shape", {-1, 8}}, {"dtype", "f32"}},
                            {{"id", 1}, {"column", "b"}, {"shape", {-1, 8}}, {"dtype", "f32"}}}},
                {"ops", ops},
                {"outputs", {14}},
                {"fusions", json::array()},
                {"value_count", 15}};
  return {{"format", "exp-plan"},
          {"format_version", kPlanFormatVersion},
          {"compiler", {{"build_id", "test"}}},
          {"source", {{"path", "t.exp"}, {"sha256", "0"}}},
          {"target", "cpu"},
          {"data", {{"name", "d"}, {"kind", "simulated_screen"}, {"params", json::object()}}},
          {"parameters",
           {{{"name", "s"}, {"shape", json::array()}, {"init", "constant"}, {"scale", 2.0},
             {"decay", false}, {"max", 4.6}}}},
          {"graphs", {{"train_step", graph}}},
          {"train", {{"name", "t"}, {"graph", "train_step"}, {"epochs", 1}, {"batch", 4},
                     {"seed", 0}, {"optimizer", {{"kind", "adamw"}, {"params", {{"lr", 0.1}}}}}}},
          {"evaluations", json::array()}};
}

} // namespace

TEST_CASE("the executor's CLIP graph equals the formula, gradients included") {
  Plan plan;
  Status s = parsePlan(clipPlan().dump(), "clip.json", plan);
  REQUIRE_MESSAGE(s.isOk(), s.message());
  ParameterStore params;
  params.initialise(plan.parameters, 0);
  torch::manual_seed(3);
  torch::Tensor a = torch::randn({6, 8}, torch::requires_grad());
  torch::Tensor b = torch::randn({6, 8}, torch::requires_grad());
  GraphExecutor exec(plan.graphs.at("train_step"), params);
  torch::Tensor loss = exec.run({{"a", a}, {"b", b}})[0];

  namespace F = torch::nn::functional;
  torch::Tensor an = F::normalize(a, F::NormalizeFuncOptions().dim(1));
  torch::Tensor bn = F::normalize(b, F::NormalizeFuncOptions().dim(1));
  torch::Tensor logits = std::exp(2.0) * an.matmul(bn.t());
  torch::Tensor t = torch::arange(6);
  torch::Tensor ref = 0.5 * (F::cross_entropy(logits, t) + F::cross_entropy(logits.t(), t));
  CHECK(loss.item<double>() == doctest::Approx(ref.item<double>()).epsilon(1e-5));

  auto g1 = torch::autograd::grad({loss}, {a});
  auto g2 = torch::autograd::grad({ref}, {a});
  CHECK(torch::allclose(g1[0], g2[0], 1e-4, 1e-5));
}

TEST_CASE("data of another shape than the plan's inputs is refused before any op, naming the input") {
  // Issue 31: it reached the first kernel, and LibTorch's message.
  Plan plan;
  REQUIRE(parsePlan(clipPlan().dump(), "clip.json", plan).isOk());
  ParameterStore params;
  params.initialise(plan.parameters, 0);
  GraphExecutor exec(plan.graphs.at("train_step"), params);
  auto refusal = [&](torch::Tensor a) {
    try {
      exec.run({{"a", a}, {"b", torch::randn({a.size(0), 8})}});
    } catch (const OpFailure &e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  CHECK(refusal(torch::randn({6, 5})) == "graph `train_step`, input `a`: the data gives [rows, 5] per batch, but the plan "
                                         "was compiled for [rows, 8] (the dataset's files are not what the spec "
                                         "declares: its image_size, channels or dim)");
  CHECK(refusal(torch::randn({6, 2, 4})).find("gives [rows, 2, 4] per batch") != std::string::npos);
  CHECK(refusal(torch::randn({3, 8})) == "(accepted)"); // any number of rows
}

TEST_CASE("parameters with a max are clamped after a step") {
  Plan plan;
  REQUIRE(parsePlan(clipPlan().dump(), "clip.json", plan).isOk());
  ParameterStore params;
  params.initialise(plan.parameters, 0);
  {
    torch::NoGradGuard g;
    params.get("s").fill_(10.0);
  }
  params.clamp();
  CHECK(params.get("s").item<double>() == doctest::Approx(4.6));
}

TEST_CASE("bad plans are refused with a message naming the file and place") {
  Plan plan;
  nlohmann::json p = clipPlan();
  p["format_version"] = 1;
  Status s = parsePlan(p.dump(), "old.json", plan);
  CHECK_FALSE(s.isOk());
  CHECK(s.message().find("old.json: plan format version 1 is not supported") == 0);

  std::string text = clipPlan().dump();
  s = parsePlan(text.substr(0, text.size() / 2), "cut.json", plan);
  CHECK(s.message().find("cut.json: not a valid plan: invalid JSON at byte") == 0);

  p = clipPlan();
  p["graphs"]["train_step"]["ops"][1]["op"] = "softmax9";
  s = parsePlan(p.dump(), "new.json", plan);
  CHECK(s.message().find("`graphs.train_step.ops[1]` uses op `softmax9`") != std::string::npos);

  p = clipPlan();
  p["graphs"]["train_step"]["ops"][1]["operands"] = {99};
  s = parsePlan(p.dump(), "bad.json", plan);
  CHECK(s.message().find("refers to value 99, outside the graph") != std::string::npos);

  p = clipPlan();
  p["parameters"] = nlohmann::json::array();
  s = parsePlan(p.dump(), "noparam.json", plan);
  CHECK(s.message().find("reads parameter `s`, which the plan does not declare") != std::string::npos);

  p = clipPlan();
  p["graphs"]["train_step"]["ops"][2] = {{"op", "contrastive_loss"}, {"operands", {0, 1, 5}},
                                        {"results", {4}}, {"attrs", {{"kind", "siglip2"}}}};
  s = parsePlan(p.dump(), "kind.json", plan);
  CHECK(s.message().find("kind.json: `graphs.train_step.ops[2].attrs.kind` is `siglip2`") == 0);
}

TEST_CASE("elementwise groups in a plan are checked, and run op by op on CPU") {
  using nlohmann::json;
  // exp and mul (ops 4 and 5) as one group: reads the parameter and the
  // similarities, yields the logits.
  json p = clipPlan();
  p["graphs"]["train_step"]["fusions"] = {{{"first", 4}, {"count", 2}, {"inputs", {5, 4}}, {"outputs", {7}}}};
  Plan grouped, plain;
  Status s = parsePlan(p.dump(), "grouped.json", grouped);
  REQUIRE_MESSAGE(s.isOk(), s.message());
  REQUIRE(parsePlan(clipPlan().dump(), "plain.json", plain).isOk());
  REQUIRE(grouped.graphs.at("train_step").fusions.size() == 1);
  ParameterStore params;
  params.initialise(grouped.parameters, 0);
  torch::manual_seed(5);
  std::map<std::string, torch::Tensor> in{{"a", torch::randn({5, 8})}, {"b", torch::randn({5, 8})}};
  CHECK(torch::equal(GraphExecutor(grouped.graphs.at("train_step"), params).run(in)[0],
                     GraphExecutor(plain.graphs.at("train_step"), params).run(in)[0]));

  auto refused = [&](json fusion, const char *why) {
    json bad = clipPlan();
    bad["graphs"]["train_step"]["fusions"] = {fusion};
    Plan plan;
    Status st = parsePlan(bad.dump(), "bad.json", plan);
    CHECK_FALSE(st.isOk());
    CHECK_MESSAGE(st.message().find(why) != std::string::npos, st.message());
  };
  refused({{"first", 2}, {"count", 1}, {"inputs", {2, 3}}, {"outputs", {4}}},
          "`graphs.train_step.fusions[0]` includes `matmul` (op 2), which is not elementwise");
  refused({{"first", 12}, {"count", 3}, {"inputs", {9}}, {"outputs", {14}}},
          "covers ops [12, 15), which is not a run of the 13 ops");
  refused({{"first", 4}, {"count", 2}, {"inputs", {5, 4, 6}}, {"outputs", {7}}},
          "lists value 6, which is not computed before the group");
  refused({{"first", 4}, {"count", 2}, {"inputs", {5, 4, 12}}, {"outputs", {7}}},
          "lists value 12, which is not computed before the group");
  refused({{"first", 4}, {"count", 2}, {"inputs", {5}}, {"outputs", {7}}},
          "op 5 reads value 4, which is neither an input of the group nor computed in it");
  refused({{"first", 4}, {"count", 2}, {"inputs", {5, 4}}, {"outputs", {8}}},
          "lists value 8, which the group's ops do not compute");
}

namespace {
// Stands in for the generated kernels (gpu/GeneratedGroups.cpp): computes
// the clip plan's exp-mul group, out = sims * exp(s), and counts its calls.
struct CountingRunner : GroupRunner {
  mutable int calls = 0;
  bool decline = false;
  bool run(const Fusion &f, const std::vector<torch::Tensor> &in,
           std::vector<torch::Tensor> &out) const override {
    ++calls;
    if (decline || f.kernel != "fusion_0" || in.size() != 2)
      return false;
    out = {in[1] * in[0].exp()};
    return true;
  }
};
} // namespace

TEST_CASE("the executor hands kernel-backed groups to the placement's runner") {
  using nlohmann::json;
  json p = clipPlan();
  p["graphs"]["train_step"]["fusions"] = {
      {{"first", 4}, {"count", 2}, {"inputs", {5, 4}}, {"outputs", {7}}, {"kernel", "fusion_0"}}};
  p["target"] = "cuda";
  p["gpu"] = {{"arch", "sm_80"}, {"block", 256}, {"ptx", ".visible .entry fusion_0(\n.visible .entry fusion_0_grad("}};
  Plan grouped;
  Status s = parsePlan(p.dump(), "grouped.json", grouped);
  REQUIRE_MESSAGE(s.isOk(), s.message());
  auto runner = std::make_shared<CountingRunner>();
  Placement placement;
  placement.groups = runner;
  ParameterStore withRunner, plain;
  withRunner.initialise(grouped.parameters, 0, placement);
  plain.initialise(grouped.parameters, 0);
  const Graph &g = grouped.graphs.at("train_step");
  torch::manual_seed(5);
  torch::Tensor a = torch::randn({5, 8}, torch::requires_grad());
  std::map<std::string, torch::Tensor> in{{"a", a}, {"b", torch::randn({5, 8})}};
  torch::Tensor fused = GraphExecutor(g, withRunner).run(in)[0];
  CHECK(runner->calls == 1);
  torch::Tensor ref = GraphExecutor(g, plain).run(in)[0];
  CHECK(fused.item<double>() == doctest::Approx(ref.item<double>()).epsilon(1e-6));
  // Gradients flow through what the runner returned, to inputs and parameters.
  auto gf = torch::autograd::grad({fused}, {a, withRunner.get("s")});
  auto gr = torch::autograd::grad({ref}, {a, plain.get("s")});
  CHECK(torch::allclose(gf[0], gr[0], 1e-5, 1e-6));
  CHECK(torch::allclose(gf[1], gr[1], 1e-5, 1e-6));

  // Declined: the group's ops run one by one, with the same result.
  runner->decline = true;
  CHECK(GraphExecutor(g, withRunner).run(in)[0].item<double>() == doctest::Approx(ref.item<double>()));
  CHECK(runner->calls == 2);
  runner->decline = false;
  // Fault injection inside the group and the non-finite search bypass it,
  // so they name the op itself.
  GraphExecutor poisoned(g, withRunner);
  poisoned.injectNaN(5);
  CHECK(std::isnan(poisoned.run(in)[0].item<double>()));
  CHECK(poisoned.firstNonFinite(in) == 5);
  CHECK(runner->calls == 2);
  // A group that computes a value read after it must list it as an output.
  json bad = clipPlan();
  bad["graphs"]["train_step"]["fusions"] = {{{"first", 4}, {"count", 2}, {"inputs", {5, 4}}, {"outputs", {6}}}};
  Plan plan;
  Status st = parsePlan(bad.dump(), "bad.json", plan);
  CHECK_FALSE(st.isOk());
  CHECK_MESSAGE(st.message().find("omits value 7, which op 6 reads after the group") != std::string::npos,
                st.message());
}

TEST_CASE("the fused CLIP op in a plan gives the unfused graph's loss and gradients") {
  nlohmann::json fused = clipPlan();
  auto &ops = fused["graphs"]["train_step"]["ops"];
  ops = nlohmann::json::array(
      {ops[3], ops[4],
       {{"op", "contrastive_loss"}, {"operands", {0, 1, 6}}, {"results", {14}},
        {"attrs", {{"kind", "clip"}}}}});
  Plan a, b;
  REQUIRE(parsePlan(clipPlan().dump(), "unfused.json", a).isOk());
  Status st = parsePlan(fused.dump(), "fused.json", b);
  REQUIRE_MESSAGE(st.isOk(), st.message());
  ParameterStore pa, pb;
  pa.initialise(a.parameters, 0);
  pb.initialise(b.parameters, 0);
  torch::manual_seed(5);
  torch::Tensor x = torch::randn({16, 8}, torch::requires_grad());
  torch::Tensor y = torch::randn({16, 8});
  torch::Tensor la = GraphExecutor(a.graphs.at("train_step"), pa).run({{"a", x}, {"b", y}})[0];
  torch::Tensor lb = GraphExecutor(b.graphs.at("train_step"), pb).run({{"a", x}, {"b", y}})[0];
  CHECK(la.item<double>() == doctest::Approx(lb.item<double>()).epsilon(1e-6));
  auto ga = torch::autograd::grad({la}, {x, pa.get("s")});
  auto gb = torch::autograd::grad({lb}, {x, pb.get("s")});
  CHECK(torch::allclose(ga[0], gb[0], 1e-4, 1e-6));
  CHECK(torch::allclose(ga[1], gb[1], 1e-4, 1e-6));
}

TEST_CASE("the simulated screen is deterministic in its seed") {
  nlohmann::json params = {{"seed", 5}, {"plates", 3}, {"holdout_plates", 1}, {"perturbations", 4},
                           {"replicates", 1}, {"controls", 2}, {"sites", 1}, {"channels", 5},
                           {"image_size", 16}};
  Screen a, b, c;
  REQUIRE(generateSimulatedScreen(params, a).isOk());
  REQUIRE(generateSimulatedScreen(params, b).isOk());
  params["seed"] = 6;
  REQUIRE(generateSimulatedScreen(params, c).isOk());
  CHECK(a.images.sizes() == torch::IntArrayRef({18, 5, 16, 16}));
  CHECK(torch::equal(a.images, b.images));
  CHECK_FALSE(torch::equal(a.images, c.images));
  CHECK(a.trainSites.size() == 12);
  CHECK(a.evalSites.size() == 6);
  // Every plate has control wells.
  for (int64_t plate = 0; plate < 3; ++plate)
    CHECK(((a.plate == plate) & (a.perturbation == 0)).sum().item<int64_t>() == 2);
}

TEST_CASE("perturbations change the images: effects are visible in pixel statistics") {
  nlohmann::json params = {{"seed", 1}, {"plates", 2}, {"holdout_plates", 1}, {"perturbations", 6},
                           {"replicates", 8}, {"controls", 8}, {"sites", 2}, {"noise", 0.0}};
  Screen s;
  REQUIRE(generateSimulatedScreen(params, s).isOk());
  // Mean intensity per channel, per perturbation: perturbations differ from
  // controls far more than two halves of the controls differ from each other.
  torch::Tensor stats = s.images.mean({2, 3});
  torch::Tensor ctrl = stats.index({s.perturbation == 0});
  int64_t half = ctrl.size(0) / 2;
  double ctrlGap = (ctrl.slice(0, 0, half).mean(0) - ctrl.slice(0, half).mean(0)).norm().item<double>();
  double maxGap = 0;
  for (int64_t k = 1; k <= 6; ++k) {
    torch::Tensor pk = stats.index({s.perturbation == k});
    maxGap = std::max(maxGap, (pk.mean(0) - ctrl.mean(0)).norm().item<double>());
  }
  CHECK(maxGap > 3 * ctrlGap);
}

TEST_CASE("bad simulated screen parameters are refused") {
  Screen s;
  Status st = generateSimulatedScreen({{"plates", 2}, {"holdout_plates", 2}}, s);
  CHECK_FALSE(st.isOk());
  CHECK(st.message().find("simulated_screen") == 0);
}

TEST_CASE("frozen parameters get no gradient and no optimiser updates") {
  using nlohmann::json;
  // Two embedding tables of the perturbation column, one frozen, aligned by CLIP.
  json plan = clipPlan();
  auto op = [](const char *name, std::vector<int> in, int out, json attrs = json::object()) {
    return json{{"op", name}, {"operands", in}, {"results", {out}}, {"attrs", attrs}};
  };
  plan["graphs"]["train_step"] = {
      {"inputs", {{{"id", 0}, {"column", "perturbation"}, {"shape", {-1}}, {"dtype", "i64"}}}},
      {"ops", json::array({op("param", {}, 1, {{"parameter", "frozen_table"}}),
                           op("param", {}, 2, {{"parameter", "table"}}),
                           op("embedding_lookup", {1, 0}, 3), op("embedding_lookup", {2, 0}, 4),
                           op("param", {}, 5, {{"parameter", "s"}}), op("exp", {5}, 6),
                           op("contrastive_loss", {3, 4, 6}, 7, {{"kind", "clip"}})})},
      {"outputs", {7}},
      {"value_count", 8}};
  plan["parameters"].push_back({{"name", "frozen_table"}, {"shape", {7, 4}}, {"init", "normal"},
                                {"scale", 1.0}, {"decay", true}, {"frozen", true}});
  plan["parameters"].push_back(
      {{"name", "table"}, {"shape", {7, 4}}, {"init", "normal"}, {"scale", 1.0}, {"decay", true}});
  plan["train"]["epochs"] = 2;
  Plan p;
  Status st = parsePlan(plan.dump(), "frozen.json", p);
  REQUIRE_MESSAGE(st.isOk(), st.message());
  Screen screen;
  REQUIRE(generateSimulatedScreen({{"seed", 1}, {"plates", 2}, {"holdout_plates", 1},
                                   {"perturbations", 6}, {"replicates", 2}, {"controls", 2},
                                   {"sites", 2}, {"image_size", 8}},
                                  screen)
              .isOk());
  ParameterStore params;
  params.initialise(p.parameters, 0);
  torch::Tensor frozenBefore = params.get("frozen_table").clone();
  torch::Tensor trainedBefore = params.get("table").clone();
  CHECK_FALSE(params.get("frozen_table").requires_grad());
  TrainResult result;
  REQUIRE(train(p, screen, FeatureStore(), params, TrainOptions{false}, result).isOk());
  CHECK(result.steps > 0);
  CHECK(torch::equal(params.get("frozen_table"), frozenBefore));
  CHECK_FALSE(torch::equal(params.get("table"), trainedBefore));
}
