#include "driver/Compiler.h"
#include "driver/FrontEnd.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

using namespace expc;

namespace {

struct Checked {
  unsigned errors;
  std::string output;
};

Checked check(const std::string &text) {
  std::ostringstream out;
  FrontEnd fe;
  runFrontEnd("in.exp", FrontEndOptions{}, fe, out, &text);
  return {fe.diags->errorCount(), out.str()};
}

#define IMPORTS                                                                              \
  "import std.data.{simulated_screen}\n"                                                     \
  "import std.encoders.{SmallCNN, EmbeddingTable}\n"                                       \
  "import std.objectives.{clip}\n"                                                           \
  "import std.optim.{adamw}\n"                                                               \
  "import std.eval.{replicate_map}\n"

const char *kValid = IMPORTS R"(
dataset screen = simulated_screen(seed = 1)
encoder cells = SmallCNN(channels = screen.image.channels, dim = 2 * 16)
encoder perts = EmbeddingTable(classes = screen.perturbation.classes, dim = 32)
objective align = clip(cells(screen.image), perts(screen.perturbation)) + 0.5 * clip(cells(screen.image), perts(screen.perturbation))
train main { objective = align; epochs = 2; optimizer = adamw(lr = 1e-3) }
evaluate r = replicate_map(cells(screen.held_out.image), sameby = screen.held_out.perturbation, diffby = screen.held_out.plate)
)";

} // namespace

TEST_CASE("a valid experiment checks cleanly, with constant folding and member access") {
  Checked c = check(kValid);
  CHECK(c.errors == 0);
  CHECK(c.output.empty());
}

TEST_CASE("declaration order does not matter") {
  std::string text = IMPORTS R"(
train main { objective = align; epochs = 2; optimizer = adamw(lr = 1e-3) }
objective align = clip(cells(screen.image), perts(screen.perturbation))
encoder perts = EmbeddingTable(classes = screen.perturbation.classes, dim = 64)
encoder cells = SmallCNN(channels = 3)
dataset screen = simulated_screen()
)";
  CHECK(check(text).errors == 0);
}

TEST_CASE("sema recovers and reports every error in one run") {
  std::string text = IMPORTS R"(
dataset screen = simulated_screen(plates = 200)
encoder cells = SmallCNN(channels = 4)
encoder perts = EmbeddingTable(classes = 3, dim = 64)
objective align = clip(cells(screen.image), perts(screen.perturbation))
train main { objective = align; epochs = 0; optimizer = adamw(lr = 1e-3) }
)";
  Checked c = check(text);
  CHECK(c.errors == 4); // plates range, channels, classes, epochs range
  INFO(c.output);
  CHECK(c.output.find("E0401") != std::string::npos);
  CHECK(c.output.find("E0500") != std::string::npos);
  CHECK(c.output.find("E0502") != std::string::npos);
}

TEST_CASE("cyclic and duplicate definitions are errors, not hangs") {
  Checked c = check("objective a = b\nobjective b = a\nobjective a = a\n");
  CHECK(c.errors >= 2);
  CHECK(c.output.find("E0406") != std::string::npos);
  CHECK(c.output.find("E0201") != std::string::npos);
}

TEST_CASE("hostile input: random bytes, deep nesting and long files never crash") {
  std::mt19937 rng(1234);
  const std::string alphabet = "{}()[]=;,.+-*/\"\\ \n\tabcxyz019eE_dataset train import std";
  for (int i = 0; i < 400; ++i) {
    std::string text;
    int n = std::uniform_int_distribution<int>(0, 300)(rng);
    for (int k = 0; k < n; ++k)
      text += i % 2 ? static_cast<char>(rng() & 0xFF)
                    : alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
    Checked c = check(text);
    // Either valid or explained: every failure produced a located error.
    if (c.errors > 0)
      CHECK(c.output.find("in.exp:") == 0);
  }
  Checked deep = check("objective a = " + std::string(100000, '(') + "1");
  CHECK(deep.errors == 1);
  CHECK(deep.output.find("E0009") != std::string::npos);
  Checked comment = check("/* never closed\n");
  CHECK(comment.output.find("unterminated block comment") != std::string::npos);
  Checked str = check("dataset d = simulated_screen(seed = \"abc\n");
  CHECK(str.output.find("unterminated string literal") != std::string::npos);
}

TEST_CASE("a missing file is an error naming it") {
  CompileOptions options;
  CompileOutput out;
  std::ostringstream err;
  CHECK_FALSE(compileFile("/nonexistent/x.exp", options, out, err));
  CHECK(err.str().find("cannot read `/nonexistent/x.exp`") != std::string::npos);
}

TEST_CASE("the compiler pipeline produces a plan from the lowered IR") {
  std::string path = "frontend_test_tmp.exp";
  std::ofstream(path) << kValid;
  CompileOptions options;
  CompileOutput out;
  std::ostringstream err;
  REQUIRE(compileFile(path, options, out, err));
  CHECK(err.str().empty());
  CHECK(out.experimentName == "frontend_test_tmp");
  CHECK(out.text.find("\"format_version\": 9") != std::string::npos);
  // The CLIP objective reaches the plan as one fused loss op.
  CHECK(out.text.find("\"contrastive_loss\"") != std::string::npos);
  CHECK(out.text.find("\"cross_entropy\"") == std::string::npos);
  std::remove(path.c_str());
}
