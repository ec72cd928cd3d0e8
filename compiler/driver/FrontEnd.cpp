#include "driver/FrontEnd.h"

#include "driver/Overrides.h"

#include <cmath>
#include <random>

namespace expc {
namespace {

constexpr size_t kMaxSweepPoints = 100000;

// The source text of `e` when it is on one line ("" otherwise).
std::string textOf(const SourceManager &sources, const ast::Expr &e) {
  const SourceRange &r = e.range;
  if (r.beginLine != r.endLine || r.endCol <= r.beginCol)
    return "";
  std::string_view line = sources.line(r.file, r.beginLine);
  return r.endCol - 1 <= line.size() ? std::string(line.substr(r.beginCol - 1, r.endCol - r.beginCol)) : "";
}

std::string label(const SourceManager &sources, const SweepSpace &space, const SweepChoice &c) {
  const SourceRange &r = space.expr->range;
  std::string value;
  if (c.sample) {
    value = c.sample->str();
  } else {
    // A grid's value as written (`3e-4`), and which of how many it is.
    const ast::Expr &list = *space.expr->operands[0];
    const size_t of = space.count ? space.count : size_t(space.hi);
    std::string text = list.kind == ast::ExprKind::List && size_t(c.index) < list.operands.size()
                           ? textOf(sources, *list.operands[c.index])
                           : "";
    value = text.empty() ? fmt::format("value {} of {}", c.index + 1, of)
                         : fmt::format("{} (value {} of {})", text, c.index + 1, of);
  }
  return fmt::format("line {}: {}", r.beginLine, value);
}

} // namespace

bool runFrontEnd(const std::string &path, const FrontEndOptions &options, FrontEnd &fe,
                 std::ostream &diagOut, const std::string *contents) {
  fe.diags = std::make_unique<DiagnosticEngine>(fe.sources, diagOut);
  DiagnosticEngine &diags = *fe.diags;
  diags.setJson(options.jsonDiagnostics);
  fe.modules = std::make_unique<ModuleSet>(
      fe.sources, diags, options.stdlibDir.empty() ? stdlibDirectory() : options.stdlibDir);
  int root = contents ? fe.modules->loadRootBuffer(fe.sources.addBuffer(path, *contents))
                      : fe.modules->loadRoot(path);
  if (root < 0)
    return false;
  fe.modules->loadStdModule("std.core");
  for (const LoadedModule &m : fe.modules->modules())
    if (!m.parsed)
      return false;
  // Import and override errors do not stop checking: names from a missing
  // module are reported where they are used, with the rest of the errors.
  applyOverrides(options.overrides, fe.modules->rootAst(), fe.sources, diags);
  bool clean = !diags.hasErrors();
  fe.sema = std::make_unique<Sema>(*fe.modules, fe.sources, diags);
  if (!fe.sema->check() || !clean)
    return false;
  const std::vector<SweepSpace> &spaces = fe.sema->sweeps();
  if (spaces.empty() || !options.checkSweepPoints)
    return true;

  // Trials and seed of random sweeps from the `sweep` declaration.
  int64_t trials = 8;
  uint64_t seed = 0;
  for (const ast::Decl &d : fe.sema->root().decls)
    if (d.kind == ast::DeclKind::Sweep) {
      ValPtr v = fe.sema->value(d);
      if (const Val *t = v->arg("trials"))
        trials = t->i;
      if (const Val *s = v->arg("seed"))
        seed = uint64_t(s->i);
      if (const Val *p = v->arg("parallel"))
        fe.sweepParallel = p->i;
    }
  size_t gridPoints = 1;
  bool random = false;
  for (const SweepSpace &s : spaces) {
    if (s.grid)
      gridPoints *= s.count;
    else
      random = true;
    if (gridPoints > kMaxSweepPoints)
      break;
  }
  size_t total = gridPoints * (random ? size_t(trials) : 1);
  if (gridPoints > kMaxSweepPoints || total > kMaxSweepPoints) {
    diags.emit(diag::BadSweep, spaces[0].expr->range,
               fmt::format("the sweeps make more than {} points; narrow them", kMaxSweepPoints));
    return false;
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (size_t n = 0; n < total; ++n) {
    SweepPoint point;
    std::vector<std::string> parts;
    size_t g = n % gridPoints;
    for (const SweepSpace &s : spaces) {
      SweepChoice c;
      if (s.grid) {
        c.index = int(g % s.count);
        g /= s.count;
      } else if (s.dist == "choice") {
        c.index = std::min(int(unit(rng) * s.hi), int(s.hi) - 1);
      } else if (s.dist == "int_uniform") {
        int64_t lo = int64_t(std::ceil(s.lo)), hi = int64_t(std::floor(s.hi));
        c.sample = makeInt(lo + int64_t(unit(rng) * double(hi - lo + 1)) % (hi - lo + 1),
                           s.expr->range);
      } else if (s.dist == "log_uniform") {
        c.sample = makeFloat(std::exp(std::log(s.lo) + unit(rng) * (std::log(s.hi) - std::log(s.lo))),
                             s.expr->range);
      } else {
        c.sample = makeFloat(s.lo + unit(rng) * (s.hi - s.lo), s.expr->range);
      }
      parts.push_back(label(fe.sources, s, c));
      point[s.expr] = c;
    }
    fe.points.push_back(point);
    fe.pointLabels.push_back(fmt::format("{}", fmt::join(parts, "; ")));
  }
  // Check every point before anything runs; report each problem once.
  diags.setDeduplicate(true);
  bool ok = true;
  for (size_t n = 0; n < fe.points.size(); ++n) {
    Sema sema(*fe.modules, fe.sources, diags);
    diags.pushContext(diags.makeNote(diag::InSweepPoint, spaces[0].expr->range, int64_t(n + 1),
                                     fe.pointLabels[n]));
    ok &= sema.check(fe.points[n]);
    diags.popContext();
  }
  return ok;
}

} // namespace expc
