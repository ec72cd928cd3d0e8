// Optional dependencies (issue 32): every feature of Features.def has a
// refusal that names its CMake option, and each reader behind one either
// works (the feature is built) or gives exactly that refusal. In the
// default build the first branch runs; in a build with the options off
// (-DEXP_OPTIONAL_DEPS=OFF) the second.
#include "features/Features.h"
#include "exprt/Runtime.h"
#include "parallel/Collective.h"
#include "prep/Archive.h"
#include "prep/Csv.h"
#include "prep/H5ad.h"
#include "prep/Image.h"
#include "prep/Jpeg2000.h"
#include "prep/Profiles.h"
#include "side/Molecules.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <set>

using namespace exprt;

TEST_CASE("features: each refusal names the feature, its library and the option that builds it") {
  std::set<std::string> names, options;
  for (BuildFeature f : allFeatures()) {
    const FeatureInfo &i = featureInfo(f);
    const Status s = missingFeature(f, "data/metadata.csv");
    CHECK(s.kind() == ErrorKind::FeatureMissing);
    CHECK(std::string(s.code()) == "R0106");
    CHECK(s.message().rfind("data/metadata.csv: needs ", 0) == 0);
    CHECK(s.message().find(i.library) != std::string::npos);
    CHECK(s.message().find(std::string("rebuild it with -D") + i.option + "=ON") != std::string::npos);
    CHECK(s.message().find(std::string("(feature `") + i.name + "`)") != std::string::npos);
    CHECK(std::string(i.option).rfind("EXP_WITH_", 0) == 0);
    names.insert(i.name);
    options.insert(i.option);
  }
  CHECK(names.size() == allFeatures().size()); // one row per feature
  CHECK(options.size() == allFeatures().size());
  CHECK(requireFeatures({}, "x").isOk());
}

namespace {

// One call per feature into the code only it builds, on input that cannot
// succeed (a missing file, bytes that are no image) except where the input
// is valid (a SMILES).
std::map<BuildFeature, std::function<Status()>> probes() {
  static Image image;
  return {
      {BuildFeature::Csv, [] { CsvTable t; return readCsv("/nonexistent/metadata.csv", t); }},
      {BuildFeature::Sqlite, [] { Profiles p; return readProfilesSqlite("/nonexistent/profiles.sqlite", "Image", p); }},
      {BuildFeature::Archive, [] { return listArchive("/nonexistent/shard.tar", [](const std::string &) {}); }},
      {BuildFeature::Hdf5, [] { AnnData a; return readH5ad("/nonexistent/counts.h5ad", a); }},
      {BuildFeature::Jpeg2000, [] { return decodeJpeg2000("not an image", "site.jp2", image); }},
      {BuildFeature::Png, [] { return decodePng("not an image", "site.png", image); }},
      {BuildFeature::Tiff, [] { return readTiff("/nonexistent/site.tif", image); }},
      {BuildFeature::Molecules, [] { std::string c; return canonicalSmiles("OCC", c); }},
      {BuildFeature::Gloo,
       [] {
         SessionOptions o;
         o.worldSize = 2;
         return collectiveFeatures(o);
       }},
  };
}

} // namespace

TEST_CASE("features: a reader works when its feature is built and refuses, naming the option, when not") {
  const auto all = probes();
  REQUIRE(all.size() == allFeatures().size()); // a new feature needs its probe here
  for (BuildFeature f : allFeatures()) {
    const FeatureInfo &i = featureInfo(f);
    CAPTURE(i.name);
    const Status s = all.at(f)();
    if (i.built) {
      CHECK(s.kind() != ErrorKind::FeatureMissing);
    } else {
      MESSAGE("not built here: " << s.message());
      CHECK(s.kind() == ErrorKind::FeatureMissing);
      CHECK(s.message().find(std::string("-D") + i.option + "=ON") != std::string::npos);
    }
  }
}

TEST_CASE("features: the run record's environment lists every feature and whether it is built") {
  const nlohmann::json env = nlohmann::json::parse(environmentJson());
  REQUIRE(env.contains("features"));
  for (BuildFeature f : allFeatures())
    CHECK(env["features"].at(featureInfo(f).name).get<bool>() == built(f));
}
