#include "driver/Overrides.h"

#include "parse/Parser.h"

namespace expc {
namespace {

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s)
    if (c == sep)
      out.emplace_back();
    else
      out.back() += c;
  return out;
}

bool validName(const std::string &s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_'))
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return true;
}

// Finds (or adds) the named argument `key` of a call; null if not a call.
ast::ExprPtr *callArg(ast::Expr &call, const std::string &key, SourceRange keyRange) {
  if (call.kind != ast::ExprKind::Call)
    return nullptr;
  for (size_t i = 0; i < call.argCount(); ++i)
    if (call.argNames[i] == key) {
      call.argNameRanges[i] = keyRange; // messages point at the override
      return &call.operands[i + 1];
    }
  call.argNames.push_back(key);
  call.argNameRanges.push_back(keyRange);
  call.operands.push_back(nullptr);
  return &call.operands.back();
}

} // namespace

namespace {

// DECL.KEY: a block setting, else a named argument of the declaration's
// call (block kinds take new settings; a call takes new arguments), else a
// new setting.
ast::ExprPtr *settingSlot(ast::Decl &decl, const std::string &key, SourceRange range) {
  ast::ExprPtr *slot = nullptr;
  for (ast::Setting &s : decl.settings)
    if (s.key == key) {
      s.keyRange = range;
      slot = &s.value;
    }
  if (!slot && decl.value && decl.value->kind == ast::ExprKind::Call) {
    bool named = false;
    for (const std::string &n : decl.value->argNames)
      named |= n == key;
    bool block = decl.kind == ast::DeclKind::Dataset || decl.kind == ast::DeclKind::Encoder ||
                 decl.kind == ast::DeclKind::Evaluate;
    if (named || !block)
      slot = callArg(*decl.value, key, range);
  }
  if (!slot) {
    decl.settings.push_back({key, range, nullptr});
    slot = &decl.settings.back().value;
  }
  return slot;
}

// One `path=value` override applied to `root`, or its error reported.
void applyOverride(const std::string &text, ast::Module &root, SourceManager &sources, DiagnosticEngine &diags) {
  FileId file = sources.addBuffer("<command line>", text);
  size_t eq = text.find('=');
  std::vector<std::string> path = split(text.substr(0, eq == std::string::npos ? 0 : eq), '.');
  auto whole = SourceRange{file, 1, 1, 1, uint32_t(text.size()) + 1};
  bool wellFormed = eq != std::string::npos && eq + 1 < text.size();
  for (const std::string &p : path)
    wellFormed &= validName(p);
  if (!wellFormed) {
    diags.emit(diag::BadOverride, whole, text);
    return;
  }
  // Column ranges of each path component, for diagnostics.
  std::vector<SourceRange> ranges;
  uint32_t col = 1;
  for (const std::string &p : path) {
    ranges.push_back(SourceRange{file, 1, col, 1, col + uint32_t(p.size())});
    col += uint32_t(p.size()) + 1;
  }
  // The value, parsed where it stands in the override text.
  ast::ExprPtr value = parseExpression(file, sources, diags, eq + 1);
  if (!value)
    return;

  ast::Decl *decl = nullptr;
  std::vector<std::string> names;
  for (ast::Decl &d : root.decls) {
    names.push_back(d.name);
    if (d.name == path[0])
      decl = &d;
  }
  if (!decl) {
    auto d = diags.emit(diag::UnknownOverrideTarget, ranges[0], path[0]);
    std::string guess = closestMatch(path[0], names);
    if (!guess.empty())
      d.help(fmt::format("did you mean `{}`?", guess));
    return;
  }
  if (decl->kind == ast::DeclKind::Param) {
    if (path.size() != 1) {
      diags.emit(diag::OverrideNotSettable, ranges[1], text.substr(0, eq),
                 fmt::format("`{}` is a parameter; override it as `{}=...`", path[0], path[0]));
      return;
    }
    decl->params[0].value = std::move(value);
    return;
  }
  // DECL=EXPR: the declaration's whole value (a dataset's source call:
  // `screen=jump_cp("data/cpg0016")` points a spec at real data); its
  // block settings stay.
  bool valued = decl->kind == ast::DeclKind::Dataset || decl->kind == ast::DeclKind::Side ||
                decl->kind == ast::DeclKind::Encoder || decl->kind == ast::DeclKind::Objective ||
                decl->kind == ast::DeclKind::Evaluate;
  if (path.size() == 1 && valued && decl->value) {
    decl->value = std::move(value);
    return;
  }
  if (path.size() == 1 || decl->kind == ast::DeclKind::Network ||
      decl->kind == ast::DeclKind::Extern) {
    diags.emit(diag::OverrideNotSettable, ranges[0], text.substr(0, eq),
               path.size() == 1 ? "name one of its settings or arguments, as in `decl.key=value`"
                                : "networks and externs are definitions, not settings");
    return;
  }
  ast::ExprPtr *slot = settingSlot(*decl, path[1], ranges[1]);
  bool ok = true;
  for (size_t k = 2; k < path.size() && ok; ++k) {
    if (!*slot || (*slot)->kind != ast::ExprKind::Call) {
      diags.emit(diag::OverrideNotSettable, ranges[k], text.substr(0, eq),
                 fmt::format("`{}` is not a call with arguments", path[k - 1]));
      ok = false;
      break;
    }
    slot = callArg(**slot, path[k], ranges[k]);
  }
  // A slot created for a path that then failed still gets the value, so
  // the AST never holds an empty expression.
  if (ok || !*slot)
    *slot = std::move(value);
}

} // namespace

bool applyOverrides(const std::vector<std::string> &overrides, ast::Module &root,
                    SourceManager &sources, DiagnosticEngine &diags) {
  unsigned before = diags.errorCount();
  for (const std::string &text : overrides)
    applyOverride(text, root, sources, diags);
  return diags.errorCount() == before;
}

} // namespace expc
