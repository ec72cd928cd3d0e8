// Precomputed features (step.precompute): the safetensors cache files, the
// content key, plan validation, and training on cached features giving the
// losses that computing them in every step gives.
#include "cache/FeatureStore.h"
#include "data/simulator/SimulatedScreen.h"
#include "exec/Kernels.h"
#include "plan/Plan.h"
#include "record/SafeTensors.h"
#include "train/Trainer.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

using namespace exprt;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json op(const char *name, std::vector<int> in, int out, json attrs = json::object()) {
  return json{{"op", name}, {"operands", in}, {"results", {out}}, {"attrs", attrs}};
}

json column(int id, const char *name) {
  return {{"id", id}, {"column", name}, {"shape", {-1}}, {"dtype", "i64"}};
}

// CLIP between a frozen encoder of the perturbation (a frozen table, then a
// trainable linear head) and a trainable table. `hoisted`: the frozen lookup
// is a precompute graph the step reads, as step-hoist-frozen-encoders makes it.
json frozenEncoderPlan(bool hoisted) {
  json plan = {{"format", "exp-plan"},
               {"format_version", kPlanFormatVersion},
               {"compiler", {{"build_id", "test"}}},
               {"source", {{"path", "test.exp"}, {"sha256", ""}}},
               {"target", "cpu"},
               {"data", {{"name", "screen"}, {"kind", "simulated_screen"}, {"params", json::object()}}},
               {"evaluations", json::array()}};
  plan["parameters"] = {
      {{"name", "frozen"}, {"shape", {7, 6}}, {"init", "normal"}, {"scale", 1.0}, {"decay", true}, {"frozen", true}},
      {{"name", "head.w"}, {"shape", {4, 6}}, {"init", "uniform"}, {"scale", 0.4}, {"decay", true}},
      {{"name", "table"}, {"shape", {7, 4}}, {"init", "normal"}, {"scale", 1.0}, {"decay", true}},
      {{"name", "s"}, {"shape", json::array()}, {"init", "constant"}, {"scale", 2.0}, {"decay", false}}};
  json zero = op("constant", {}, 9, {{"value", 0.0}});
  json head = json::array({op("param", {}, 2, {{"parameter", "head.w"}}), zero,
                           op("linear", {1, 2, 9}, 3), op("param", {}, 4, {{"parameter", "table"}}),
                           op("embedding_lookup", {4, 0}, 5), op("param", {}, 6, {{"parameter", "s"}}),
                           op("exp", {6}, 7), op("contrastive_loss", {3, 5, 7}, 8, {{"kind", "clip"}})});
  json step = {{"outputs", {8}}, {"value_count", 11}};
  if (hoisted) {
    step["inputs"] = {column(0, "perturbation"),
                      {{"id", 1}, {"features", {{"graph", "features"}, {"output", 0}}}, {"shape", {-1, 6}}, {"dtype", "f32"}}};
    step["ops"] = head;
    plan["graphs"]["features"] = {
        {"inputs", {column(0, "perturbation")}},
        {"ops", {op("param", {}, 1, {{"parameter", "frozen"}}), op("embedding_lookup", {1, 0}, 2)}},
        {"outputs", {2}},
        {"value_count", 3}};
    plan["precompute"] = {{{"graph", "features"}}};
  } else {
    step["inputs"] = {column(0, "perturbation")};
    step["ops"] = json::array({op("param", {}, 10, {{"parameter", "frozen"}}), op("embedding_lookup", {10, 0}, 1)});
    for (const json &o : head)
      step["ops"].push_back(o);
  }
  plan["graphs"]["train_step"] = step;
  plan["train"] = {{"name", "main"}, {"graph", "train_step"}, {"epochs", 3}, {"batch", 4}, {"seed", 0},
                   {"optimizer", {{"kind", "adamw"}, {"params", {{"lr", 0.05}}}}}};
  return plan;
}

Plan parsed(const json &plan) {
  Plan p;
  Status st = parsePlan(plan.dump(), "plan.json", p);
  REQUIRE_MESSAGE(st.isOk(), st.message());
  return p;
}

Screen smallScreen() {
  Screen screen;
  REQUIRE(generateSimulatedScreen({{"seed", 1}, {"plates", 3}, {"holdout_plates", 1},
                                   {"perturbations", 6}, {"replicates", 2}, {"controls", 2},
                                   {"sites", 2}, {"image_size", 8}},
                                  screen)
              .isOk());
  return screen;
}

fs::path freshDir(const char *name) {
  fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

} // namespace

TEST_CASE("training on precomputed features gives the losses of computing them every step") {
  Screen screen = smallScreen();
  std::vector<double> losses[2];
  for (bool hoisted : {false, true}) {
    Plan p = parsed(frozenEncoderPlan(hoisted));
    ParameterStore params;
    params.initialise(p.parameters, 0);
    FeatureStore features;
    REQUIRE(features.build(p, screen, params, screen.trainSites, "", false).isOk());
    CHECK(features.records().size() == (hoisted ? 1u : 0u));
    TrainResult result;
    REQUIRE(train(p, screen, features, params, TrainOptions{false}, result).isOk());
    losses[hoisted] = result.epochLoss;
  }
  REQUIRE(losses[0].size() == 3);
  for (size_t i = 0; i < 3; ++i)
    CHECK(losses[1][i] == doctest::Approx(losses[0][i]).epsilon(1e-6));
}

TEST_CASE("precomputed features are cached by content and read back identical") {
  Screen screen = smallScreen();
  Plan p = parsed(frozenEncoderPlan(true));
  fs::path dir = freshDir("exp-feature-cache-test");
  ParameterStore params;
  params.initialise(p.parameters, 0);
  FeatureStore first, second;
  REQUIRE(first.build(p, screen, params, screen.trainSites, dir.string(), false).isOk());
  REQUIRE(second.build(p, screen, params, screen.trainSites, dir.string(), false).isOk());
  CHECK_FALSE(first.records()[0].fromCache);
  CHECK(second.records()[0].fromCache);
  CHECK(first.records()[0].key == second.records()[0].key);
  torch::Tensor rows = torch::tensor(screen.trainSites, torch::kInt64);
  const Graph &step = p.graphs.at("train_step");
  CHECK(torch::equal(first.inputs(step, screen, rows).at("features:features/0"),
                     second.inputs(step, screen, rows).at("features:features/0")));

  // Other frozen weights or other rows are other content: another key.
  ParameterStore other;
  other.initialise(p.parameters, 1);
  FeatureStore third, fourth;
  REQUIRE(third.build(p, screen, other, screen.trainSites, dir.string(), false).isOk());
  CHECK_FALSE(third.records()[0].fromCache);
  CHECK(third.records()[0].key != first.records()[0].key);
  std::vector<int64_t> fewer(screen.trainSites.begin(), screen.trainSites.end() - 1);
  REQUIRE(fourth.build(p, screen, params, fewer, dir.string(), false).isOk());
  CHECK(fourth.records()[0].key != first.records()[0].key);

  // A damaged cache entry is recomputed, not trusted.
  fs::path entry = dir / (first.records()[0].key + ".safetensors");
  fs::resize_file(entry, fs::file_size(entry) / 2);
  FeatureStore fifth;
  REQUIRE(fifth.build(p, screen, params, screen.trainSites, dir.string(), false).isOk());
  CHECK_FALSE(fifth.records()[0].fromCache);
  CHECK(torch::equal(fifth.inputs(step, screen, rows).at("features:features/0"),
                     first.inputs(step, screen, rows).at("features:features/0")));
  fs::remove_all(dir);
}

TEST_CASE("plans whose precomputation would be unsound are refused") {
  Plan p;
  json plan = frozenEncoderPlan(true);
  plan["parameters"][0].erase("frozen");
  Status st = parsePlan(plan.dump(), "plan.json", p);
  CHECK(st.message() == "plan.json: precomputed graph `features` reads trainable parameter "
                        "`frozen`; it cannot be computed once");

  plan = frozenEncoderPlan(true);
  plan["precompute"] = json::array();
  st = parsePlan(plan.dump(), "plan.json", p);
  CHECK(st.message() == "plan.json: graph `train_step` reads features of `features`, which the "
                        "plan does not precompute");

  plan = frozenEncoderPlan(true);
  plan["graphs"]["train_step"]["inputs"][1]["features"]["output"] = 3;
  st = parsePlan(plan.dump(), "plan.json", p);
  CHECK(st.message() == "plan.json: graph `train_step` reads output 3 of `features`, which has 1");
}

TEST_CASE("safetensors files round-trip and damaged ones are refused with the file named") {
  fs::path dir = freshDir("exp-safetensors-test");
  std::string path = (dir / "t.safetensors").string();
  SafeTensors file;
  file.tensors["a"] = torch::randn({3, 5});
  file.tensors["b"] = torch::arange(7, torch::kInt64);
  file.tensors["scalar"] = torch::scalar_tensor(2.5, torch::kFloat64);
  file.tensors["empty"] = torch::zeros({0, 4}); // issue 31: UBSan saw a null memcpy on reading it
  file.metadata = {{"graph", "features"}};
  REQUIRE(writeSafeTensors(path, file).isOk());
  SafeTensors back;
  REQUIRE(readSafeTensors(path, back).isOk());
  CHECK(back.metadata == file.metadata);
  REQUIRE(back.tensors.size() == 4);
  CHECK(back.tensors.at("empty").sizes() == c10::IntArrayRef{0, 4});
  for (const auto &[name, t] : file.tensors)
    CHECK(torch::equal(back.tensors.at(name), t));

  // The layout other readers expect: u64 header length, a JSON header, data.
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char *>(&n), 8);
  std::string header(n, '\0');
  in.read(header.data(), n);
  json h = json::parse(header);
  CHECK(h["a"]["dtype"] == "F32");
  CHECK(h["a"]["shape"] == json({3, 5}));
  CHECK(h["b"]["dtype"] == "I64");
  CHECK(h["__metadata__"]["graph"] == "features");
  CHECK((8 + n) % 8 == 0);

  fs::resize_file(path, fs::file_size(path) - 4);
  Status st = readSafeTensors(path, back);
  CHECK(st.message().find(path + ": not a valid safetensors file:") == 0);
  CHECK(st.message().find("truncated") != std::string::npos);

  std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string("\x10\0\0\0\0\0\0\0{\"a\":", 13);
  st = readSafeTensors(path, back);
  CHECK(st.message().find("header length 16 exceeds the file") != std::string::npos);

  std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string("\x04\0\0\0\0\0\0\0[1] ", 12);
  st = readSafeTensors(path, back);
  CHECK(st.message() == path + ": not a valid safetensors file: the header is not a JSON object");

  // Issue 31: a shape whose element count overflows said "0 bytes", then
  // LibTorch's numel overflow, naming no tensor.
  const std::string huge = R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(huge.size());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes + huge;
  st = readSafeTensors(path, back);
  CHECK(st.kind() == ErrorKind::InputMalformed);
  CHECK(st.message() == path + ": not a valid safetensors file: tensor `w` has a shape [4294967296,4294967296,4] "
                               "larger than the file's 0 data bytes could hold");
  fs::remove_all(dir);
}
