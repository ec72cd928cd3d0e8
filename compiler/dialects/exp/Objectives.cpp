//===- Objectives.cpp - the std.objectives registry -----------------------===//
//
// One entry per objective (Objectives.h). The settings' defaults are the
// stdlib's; docs/objectives.md gives each formula.
//
//===----------------------------------------------------------------------===//

#include "dialects/exp/Objectives.h"

#include "dialects/exp/ExpDialect.h"

#include <cmath>

using namespace mlir;

namespace expc::expd {

double ObjectiveLowering::floatArg(StringRef key, double fallback) const { return floatParam(cfg, key, fallback); }

bool ObjectiveLowering::boolArg(StringRef key, bool fallback) const {
  auto v = cfg.getAs<BoolAttr>(key);
  return v ? v.getValue() : fallback;
}

namespace {
using Ctx = ObjectiveLowering;

void cwcl(Ctx &c) {
  c.operands.push_back(
      c.logitScale(c.floatArg("temperature", 0.07), c.boolArg("learnable_temperature", true),
                   c.floatArg("max_logit_scale", 100)));
}
// SigLIP's t' = log(1 / temperature) and bias b, both learned.
void sigmoidPairs(Ctx &c) {
  c.operands.push_back(c.logitScale(c.floatArg("temperature", 0.1), true, 1e6));
  c.operands.push_back(c.param(".bias", {}, "constant", c.floatArg("bias", -10), false));
}
void cloob(Ctx &c) {
  c.keep("inverse_temperature", 14.3);
  c.keep("hopfield_beta", 14.3);
}
void temperature01(Ctx &c) { c.keep("temperature", 0.1); }
void temperature1(Ctx &c) { c.keep("temperature", 1.0); }
void kgSoftTargets(Ctx &c) { c.keep("tau", 0.1); }
void nothing(Ctx &) {}
// A head over the labels' classes, initialised as nn.Linear; ArcFace's head
// has no bias.
void classify(Ctx &c) {
  int64_t classes = cast<LabelsType>(c.sources[1].getType()).getClasses();
  int64_t d = cast<RankedTensorType>(c.operands[0].getType()).getShape().back();
  double bound = 1.0 / std::sqrt(double(d));
  c.operands.push_back(c.param(".head.weight", {classes, d}, "uniform", bound, true));
  c.keep("label_smoothing", 0);
  auto head = c.cfg.getAs<StringAttr>("head");
  if (head && head.getValue() == "arcface") {
    c.runtimeKind = "arcface";
    c.keep("scale", 64);
    c.keep("margin", 0.5);
  } else {
    c.operands.push_back(c.param(".head.bias", {classes}, "uniform", bound, false));
  }
}

const std::vector<ObjectiveKind> &objectives() {
  static const std::vector<ObjectiveKind> kinds = {
      {"cwcl", {"image", "text", "features"}, "eef", 2, false, cwcl},
      {"cloob", {"a", "b"}, "ee", 2, false, cloob},
      {"siglip", {"a", "b"}, "ee", 2, false, sigmoidPairs},
      {"s2l", {"a", "b", "targets"}, "eee", 2, false, sigmoidPairs},
      {"supcon", {"a", "b", "labels"}, "eel", 2, false, temperature01},
      {"paclr", {"treated1", "control1", "treated2", "control2", "labels"}, "eeeel", 4, false, temperature1},
      {"kg_soft_targets", {"x", "labels", "graph"}, "elg", 1, false, kgSoftTargets},
      {"kg_laplacian", {"x", "labels", "graph"}, "elg", 1, false, nothing},
      {"classify", {"x", "labels"}, "el", 1, false, classify},
      {"simclr", {"x"}, "e", 1, true, temperature01},
  };
  return kinds;
}

} // namespace

const ObjectiveKind *findObjectiveKind(StringRef name) {
  for (const ObjectiveKind &k : objectives())
    if (k.name == name)
      return &k;
  return nullptr;
}

} // namespace expc::expd
