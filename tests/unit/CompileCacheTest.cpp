#include "driver/CompileCache.h"
#include "driver/Compiler.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace expc;

namespace {

const char *kSource = R"(import std.data.{simulated_screen}
import std.encoders.{SmallCNN, EmbeddingTable}
import std.objectives.{clip}
import std.optim.{adamw}
param lr: float = 1e-3
dataset screen = simulated_screen(seed = 1)
encoder cells = SmallCNN(dim = 32)
encoder perts = EmbeddingTable(dim = 32)
objective align = clip(cells(screen.image), perts(screen.perturbation))
train main { objective = align; epochs = 1; optimizer = adamw(lr = lr) }
)";

std::string hashOf(const std::string &text, const std::vector<std::string> &overrides = {}) {
  FrontEnd fe;
  std::ostringstream diags;
  FrontEndOptions options;
  options.overrides = overrides;
  REQUIRE(runFrontEnd("cache.exp", options, fe, diags, &text));
  return normalizedSourceHash(fe, overrides);
}

std::string replace(std::string s, const std::string &from, const std::string &to) {
  size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("the compile cache key changes with build id, source, overrides and target only") {
  std::string base = hashOf(kSource);
  auto key = [&](const std::string &hash, const std::string &id = buildId(),
                 const std::string &target = "cpu") {
    return compileCacheKey(id, hash, "plan", target);
  };
  // Whitespace and comments do not change it.
  std::string spaced = replace(replace(kSource, "seed = 1", "seed  =   1"), "train main",
                               "// a comment\n/* and another */\ntrain    main");
  CHECK(hashOf(spaced) == base);
  CHECK(key(hashOf(spaced)) == key(base));
  // The source does.
  CHECK(hashOf(replace(kSource, "seed = 1", "seed = 2")) != base);
  // Overrides do, and an override equal to the source's value is still recorded.
  CHECK(hashOf(kSource, {"lr=3e-4"}) != base);
  CHECK(hashOf(kSource, {"lr=3e-4"}) != hashOf(kSource, {"lr=1e-4"}));
  // The compiler's build id and the target do.
  CHECK(key(base, std::string(buildId()) + "x") != key(base));
  CHECK(key(base, buildId(), "cuda") != key(base));
}

TEST_CASE("a second compile is served from the cache, with a header for the file compiled") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "exp-cache-test";
  fs::remove_all(dir);
  setenv("EXP_CACHE_DIR", (dir / "cache").c_str(), 1);
  fs::create_directories(dir / "elsewhere");
  std::ofstream(dir / "a.exp") << kSource;
  std::ofstream(dir / "elsewhere" / "a.exp")
      << replace(kSource, "seed = 1", "seed =  1  /* same meaning */");

  CompileOptions options;
  CompileOutput first, second, spaced;
  std::ostringstream err;
  REQUIRE(compileFile((dir / "a.exp").string(), options, first, err));
  CHECK_FALSE(first.cacheHit);
  REQUIRE(compileFile((dir / "a.exp").string(), options, second, err));
  CHECK(second.cacheHit);
  CHECK(second.text == first.text);
  REQUIRE(compileFile((dir / "elsewhere" / "a.exp").string(), options, spaced, err));
  CHECK(spaced.cacheHit);
  CHECK(spaced.text.find("elsewhere") != std::string::npos); // the header names this file

  // Leaving out an optimising pass is another plan: another key, no hit.
  CompileOptions noFusion = options;
  noFusion.disabledPasses = {"step-fuse-contrastive-loss"};
  CompileOutput unfused;
  REQUIRE(compileFile((dir / "a.exp").string(), noFusion, unfused, err));
  CHECK_FALSE(unfused.cacheHit);
  CHECK(unfused.cacheKey != first.cacheKey);
  CHECK(unfused.text != first.text);

  options.useCache = false;
  CompileOutput uncached;
  REQUIRE(compileFile((dir / "a.exp").string(), options, uncached, err));
  CHECK_FALSE(uncached.cacheHit);
  CHECK(uncached.text == first.text);
  unsetenv("EXP_CACHE_DIR");
  fs::remove_all(dir);
}
