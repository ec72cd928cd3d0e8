// Instantiation of network bodies: statements run at compile time over
// symbolic tensors, so shapes are inferred layer by layer, through `repeat`
// (repetition) and `x = x + f(x)` (residual connections). Errors inside a
// body get a note at the use that instantiated it.
#include "sema/Sema.h"

#include "sema/Env.h"

namespace expc {

using ast::Stmt;
using ast::StmtKind;

namespace {
constexpr size_t kMaxInstantiationDepth = 64;
constexpr int64_t kMaxRepeat = 4096;

std::string instanceKey(const ast::Decl &net, const Sema::Env &env) {
  std::string key = fmt::format("{}", static_cast<const void *>(&net));
  for (const auto &[name, v] : env.vars)
    // Encoders by identity: the graph applies this very encoder (its parameters).
    key += "|" + name + "=" +
           (v->kind == VK::Data      ? v->type.describe()
            : v->kind == VK::Encoder ? fmt::format("encoder@{}", static_cast<const void *>(v.get()))
                                     : v->str());
  return key;
}
} // namespace

void Sema::trace(NetNode node, Val &v) {
  if (trace_.empty())
    return;
  NetGraph &g = *trace_.back();
  node.type = v.type;
  node.at = v.origin;
  v.node = static_cast<int>(g.nodes.size());
  g.nodes.push_back(std::move(node));
}

ValPtr Sema::instantiate(const ast::Decl &net, int module, Env &env, SourceRange where,
                         std::shared_ptr<const NetGraph> &graph) {
  std::string key = instanceKey(net, env);
  if (auto it = instances_.find(key); it != instances_.end()) {
    graph = it->second.graph;
    return it->second.result;
  }
  if (instantiationDepth_ >= kMaxInstantiationDepth) {
    diags_.emit(diag::InstantiationTooDeep, where, int64_t(kMaxInstantiationDepth), net.name);
    return makeError();
  }
  ++instantiationDepth_;
  diags_.pushContext(diags_.makeNote(diag::InstantiatedHere, where, net.name));
  // The body's layer graph: its data parameters (numbered by the caller, in
  // parameter order) are the input nodes.
  auto g = std::make_shared<NetGraph>();
  g->decl = &net;
  g->id = nextGraphId_++;
  for (const ast::Param &p : net.params)
    if (ValPtr v = env.find(p.name); v && v->kind == VK::Data && v->node >= 0 && isInputParam(p))
      g->nodes.push_back({NetNode::Kind::Input, p.name, {}, {}, v->type, nullptr, nullptr, p.range});
  g->inputs = g->nodes.size();
  trace_.push_back(g.get());
  ValPtr result;
  Env local;
  local.parent = &env;
  bool ok = runStmts(net.body, local, module, result);
  trace_.pop_back();
  diags_.popContext();
  --instantiationDepth_;
  if (ok && result && result->kind == VK::Data)
    g->output = result->node;
  graph = g;
  if (ok && !result)
    diags_.emit(diag::MissingReturn, net.nameRange, net.name)
        .note(diag::InstantiatedHere, where, net.name);
  // A failed body has reported why (possibly earlier, in a cached instance).
  if (!ok || !result)
    result = makeError();
  instances_[key] = {result, graph};
  return result;
}

bool Sema::runStmts(const std::vector<Stmt> &stmts, Env &env, int module, ValPtr &result) {
  for (size_t k = 0; k < stmts.size(); ++k) {
    const Stmt &s = stmts[k];
    if (result)
      return true; // an `if` or `repeat` above returned
    if (--stepBudget_ < 0) {
      if (stepBudget_ == -1)
        diags_.emit(diag::TooMuchUnrolling, s.range, kStepBudget);
      return false;
    }
    switch (s.kind) {
    case StmtKind::Let: {
      ValPtr v = eval(*s.value, &env, module);
      if (v->isError())
        return false;
      // Rebinding is how layers chain: `x = layer(x)`; find the scope that
      // holds the name so a loop body updates the variable outside it.
      Env *owner = &env;
      for (Env *e = &env; e; e = e->parent)
        if (e->vars.count(s.name)) {
          owner = e;
          break;
        }
      owner->vars[s.name] = v;
      break;
    }
    case StmtKind::Return: {
      result = eval(*s.value, &env, module);
      if (result->isError())
        return false;
      if (k + 1 < stmts.size()) {
        diags_.emit(diag::NotAllowedHere, stmts[k + 1].range, "a statement", "after `return`");
        return false;
      }
      return true;
    }
    case StmtKind::Repeat: {
      ValPtr n = eval(*s.value, &env, module);
      if (n->isError())
        return false;
      if (n->kind != VK::Int) {
        diags_.emit(diag::TypeMismatch, s.value->range, "`repeat`", "an integer count",
                    n->describe());
        return false;
      }
      if (n->i < 0 || n->i > kMaxRepeat) {
        diags_.emit(diag::OutOfRange, s.value->range, "the `repeat` count", n->str(),
                    fmt::format("a value in [0, {}]", kMaxRepeat));
        return false;
      }
      for (int64_t k = 0; k < n->i; ++k) {
        Env iter;
        iter.parent = &env;
        if (!s.name.empty())
          iter.vars[s.name] = makeInt(k, s.nameRange);
        if (!runStmts(s.body, iter, module, result))
          return false;
        if (result)
          break;
      }
      break;
    }
    case StmtKind::If: {
      ValPtr c = eval(*s.value, &env, module);
      if (c->isError())
        return false;
      if (c->kind != VK::Bool) {
        diags_.emit(diag::TypeMismatch, s.value->range, "`if`", "a boolean condition",
                    c->describe());
        return false;
      }
      Env branch;
      branch.parent = &env;
      if (!runStmts(c->b ? s.body : s.otherwise, branch, module, result))
        return false;
      break;
    }
    }
  }
  return true;
}

} // namespace expc
