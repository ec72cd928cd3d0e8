#include "sema/Builtins.h"

#include <algorithm>
#include <fmt/format.h>

namespace expc {

bool Range::contains(double v) const {
  if (minOpen ? !(v > min) : !(v >= min))
    return false;
  if (maxOpen ? !(v < max) : !(v <= max))
    return false;
  return true;
}

std::string Range::describe() const {
  bool lo = min != -std::numeric_limits<double>::infinity();
  bool hi = max != std::numeric_limits<double>::infinity();
  auto num = [](double v) { return fmt::format("{}", v); };
  if (lo && hi && !minOpen && !maxOpen)
    return fmt::format("a value between {} and {}", num(min), num(max));
  std::string s = "a value";
  if (lo)
    s += fmt::format(" {} {}", minOpen ? ">" : ">=", num(min));
  if (lo && hi)
    s += " and";
  if (hi)
    s += fmt::format(" {} {}", maxOpen ? "<" : "<=", num(max));
  return s;
}

const ParamSpec *Builtin::param(const std::string &n) const {
  int i = paramIndex(n);
  return i < 0 ? nullptr : &params[i];
}

int Builtin::paramIndex(const std::string &n) const {
  for (size_t i = 0; i < params.size(); ++i)
    if (n == params[i].name)
      return static_cast<int>(i);
  return -1;
}

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
Range atLeast(double v) { return Range{v, kInf, false, false}; }
Range above(double v) { return Range{v, kInf, true, false}; }
Range between(double a, double b) { return Range{a, b, false, false}; }
Range unit() { return Range{0, 1, false, true}; } // [0, 1)

ParamSpec req(const char *n, ParamType t, Range r = {}, const char *doc = "") {
  return ParamSpec{n, t, true, Value(), r, doc};
}
ParamSpec opt(const char *n, ParamType t, Value def, Range r = {}, const char *doc = "") {
  return ParamSpec{n, t, false, std::move(def), r, doc};
}
Value intList(std::initializer_list<int64_t> xs) {
  Value v;
  v.kind = Value::Kind::List;
  for (int64_t x : xs)
    v.list.push_back(Value::ofInt(x));
  return v;
}
} // namespace

const std::vector<Builtin> &builtins() {
  using P = ParamType;
  static const std::vector<Builtin> table = {
      {"simulated_screen", "std.data", BuiltinKind::DatasetSource,
       {opt("seed", P::Int, Value::ofInt(0), between(0, 2147483647)),
        opt("plates", P::Int, Value::ofInt(6), between(2, 64)),
        opt("holdout_plates", P::Int, Value::ofInt(2), between(1, 63)),
        opt("perturbations", P::Int, Value::ofInt(16), between(2, 1000)),
        opt("replicates", P::Int, Value::ofInt(2), between(1, 16)),
        opt("controls", P::Int, Value::ofInt(4), between(1, 64)),
        opt("sites", P::Int, Value::ofInt(2), between(1, 16)),
        opt("channels", P::Int, Value::ofInt(3), between(1, 8)),
        opt("image_size", P::Int, Value::ofInt(32), between(16, 256)),
        opt("effect", P::Float, Value::ofFloat(1.0), between(0, 10)),
        opt("batch_effect", P::Float, Value::ofFloat(0.3), between(0, 5)),
        opt("noise", P::Float, Value::ofFloat(0.05), between(0, 1))},
       "a deterministic simulated Cell Painting-like screen with known ground truth"},
      {"small_cnn", "std.encoders", BuiltinKind::Encoder,
       {req("channels", P::Int, between(1, 64)),
        opt("width", P::Int, Value::ofInt(32), between(1, 1024)),
        opt("depth", P::Int, Value::ofInt(3), between(1, 6)),
        opt("dim", P::Int, Value::ofInt(64), between(1, 8192))},
       "conv3x3-relu-maxpool blocks, global average pooling, linear projection"},
      {"embedding_table", "std.encoders", BuiltinKind::Encoder,
       {req("classes", P::Int, between(1, 1e9)), req("dim", P::Int, between(1, 8192))},
       "a learned vector per label (a perturbation embedding)"},
      {"clip", "std.objectives", BuiltinKind::Objective,
       {req("a", P::Embedding), req("b", P::Embedding),
        opt("temperature", P::Float, Value::ofFloat(0.07), Range{0, 1, true, false}),
        opt("learnable_temperature", P::Bool, Value::ofBool(true)),
        opt("max_logit_scale", P::Float, Value::ofFloat(100.0), above(1))},
       "symmetric InfoNCE between two batches of paired embeddings"},
      {"adamw", "std.optim", BuiltinKind::Optimizer,
       {req("lr", P::Float, Range{0, 10, true, false}),
        opt("weight_decay", P::Float, Value::ofFloat(0.01), between(0, 1)),
        opt("beta1", P::Float, Value::ofFloat(0.9), unit()),
        opt("beta2", P::Float, Value::ofFloat(0.999), unit()),
        opt("eps", P::Float, Value::ofFloat(1e-8), Range{0, 1, true, false})},
       "AdamW; no weight decay on biases and temperatures"},
      {"sgd", "std.optim", BuiltinKind::Optimizer,
       {req("lr", P::Float, Range{0, 10, true, false}),
        opt("momentum", P::Float, Value::ofFloat(0.9), unit()),
        opt("weight_decay", P::Float, Value::ofFloat(0.0), between(0, 1))},
       "stochastic gradient descent with momentum"},
      {"replicate_map", "std.metrics", BuiltinKind::Metric,
       {req("embedding", P::Embedding), req("sameby", P::Column), req("diffby", P::Column)},
       "mean average precision of replicate retrieval against controls (copairs semantics)"},
      {"recall_at", "std.metrics", BuiltinKind::Metric,
       {req("query", P::Embedding), req("candidates", P::Embedding),
        opt("k", P::IntList, intList({1, 5, 10}), atLeast(1))},
       "cross-modal retrieval: recall@k, mean and median rank"},
  };
  return table;
}

const Builtin &trainSettings() {
  using P = ParamType;
  static const Builtin train{
      "train", "", BuiltinKind::Train,
      {req("objective", P::Loss), req("epochs", P::Int, between(1, 1e6)),
       opt("batch", P::Int, Value::ofInt(64), between(2, 1e6)), req("optimizer", P::Optimizer),
       opt("seed", P::Int, Value::ofInt(0), between(0, 2147483647))},
      "training settings"};
  return train;
}

const Builtin *findBuiltin(const std::string &name) {
  for (const Builtin &b : builtins())
    if (name == b.name)
      return &b;
  return nullptr;
}

std::vector<std::string> stdModules() {
  std::vector<std::string> mods;
  for (const Builtin &b : builtins())
    if (std::find(mods.begin(), mods.end(), b.module) == mods.end())
      mods.push_back(b.module);
  return mods;
}

} // namespace expc
