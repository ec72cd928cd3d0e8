// Diagnostics in the Carbon/clang style: each kind is registered once in
// DiagnosticKinds.def with a stable code and typed arguments; an emitted
// diagnostic carries a range, notes pointing at related places, a help line and
// fix-its, and renders as
//
//   file:line:col: error: unknown name `imge` [E0200]
//     12 | objective a = clip(imge(screen.image), ...)
//        |                    ^~~~
//        = help: did you mean `img`?
#pragma once

#include "diagnostics/SourceManager.h"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace expc {

enum class Severity { Error, Warning, Note };

// Keeps emit()'s argument types fixed by the kind rather than deduced.
template <typename T> struct NonDeduced { using type = T; };

enum class DiagnosticId : uint16_t {
#define DIAGNOSTIC(NAME, SEV, CODE, FMT, ...) NAME,
#include "diagnostics/DiagnosticKinds.def"
};

// A registered kind with its argument types; emitting with the wrong argument
// types does not compile.
template <typename... Args> struct DiagnosticKind {
  DiagnosticId id;
  Severity severity;
  const char *code;
  const char *format;
};

namespace diag {
#define DIAGNOSTIC(NAME, SEV, CODE, FMT, ...)                                  \
  inline constexpr DiagnosticKind<__VA_ARGS__> NAME{DiagnosticId::NAME,        \
                                                    Severity::SEV, CODE, FMT};
#include "diagnostics/DiagnosticKinds.def"
} // namespace diag

struct KindInfo {
  const char *name;
  const char *code;
  Severity severity;
};
// Every registered kind, for the test that checks each has a golden test.
const std::vector<KindInfo> &allDiagnosticKinds();

struct FixIt {
  SourceRange range;       // empty range (begin == end) inserts
  std::string replacement;
};

struct Diagnostic {
  DiagnosticId id;
  Severity severity;
  std::string code;
  std::string message;
  SourceRange range;
  std::vector<Diagnostic> notes;
  std::string help;
  std::vector<FixIt> fixits;
};

class DiagnosticEngine;

// Collects notes, help and fix-its; reports the diagnostic when destroyed.
class DiagnosticBuilder {
public:
  DiagnosticBuilder(DiagnosticEngine *engine, Diagnostic d)
      : engine_(engine), diag_(std::move(d)) {}
  DiagnosticBuilder(DiagnosticBuilder &&other) noexcept
      : engine_(other.engine_), diag_(std::move(other.diag_)) {
    other.engine_ = nullptr;
  }
  DiagnosticBuilder(const DiagnosticBuilder &) = delete;
  ~DiagnosticBuilder();

  template <typename... Args>
  DiagnosticBuilder &note(const DiagnosticKind<Args...> &kind, SourceRange r,
                          const typename NonDeduced<Args>::type &...args) {
    diag_.notes.push_back(
        {kind.id, kind.severity, kind.code,
         fmt::format(fmt::runtime(kind.format), args...), r, {}, {}, {}});
    return *this;
  }
  DiagnosticBuilder &help(std::string text) {
    diag_.help = std::move(text);
    return *this;
  }
  DiagnosticBuilder &fixit(SourceRange r, std::string replacement) {
    diag_.fixits.push_back({r, std::move(replacement)});
    return *this;
  }

private:
  DiagnosticEngine *engine_;
  Diagnostic diag_;
};

class DiagnosticEngine {
public:
  DiagnosticEngine(const SourceManager &sources, std::ostream &out)
      : sources_(sources), out_(out) {}

  template <typename... Args>
  DiagnosticBuilder emit(const DiagnosticKind<Args...> &kind, SourceRange r,
                         const typename NonDeduced<Args>::type &...args) {
    return DiagnosticBuilder(
        this, Diagnostic{kind.id, kind.severity, kind.code,
                         fmt::format(fmt::runtime(kind.format), args...), r,
                         {}, {}, {}});
  }

  unsigned errorCount() const { return errors_; }
  bool hasErrors() const { return errors_ != 0; }
  // After this many errors further ones are dropped (one E0101 says so).
  void setErrorLimit(unsigned limit) { limit_ = limit; }
  const std::vector<Diagnostic> &reported() const { return reported_; }

  // Renders one diagnostic in text form (used by report and by tests).
  std::string render(const Diagnostic &d) const;
  // One JSON object per line (`--diagnostics-format=json`, for editors):
  // code, severity, message, file, range, notes, help, fix-its.
  std::string renderJson(const Diagnostic &d) const;
  void setJson(bool on) { json_ = on; }

  // Notes appended to every diagnostic reported while they are pushed: "in
  // `ViT`, used here", "in sweep point 3". Innermost first.
  void pushContext(Diagnostic note) { context_.push_back(std::move(note)); }
  void popContext() { context_.pop_back(); }
  template <typename... Args>
  Diagnostic makeNote(const DiagnosticKind<Args...> &kind, SourceRange r,
                      const typename NonDeduced<Args>::type &...args) {
    return Diagnostic{kind.id, kind.severity, kind.code,
                      fmt::format(fmt::runtime(kind.format), args...), r, {}, {}, {}};
  }
  // Drop a diagnostic identical to one already reported (sweep points check
  // the same declarations many times).
  void setDeduplicate(bool on) { dedupe_ = on; }

private:
  friend class DiagnosticBuilder;
  void report(Diagnostic d);

  const SourceManager &sources_;
  std::ostream &out_;
  unsigned errors_ = 0;
  unsigned limit_ = 50;
  bool limitReported_ = false;
  bool dedupe_ = false;
  bool json_ = false;
  std::vector<Diagnostic> reported_;
  std::vector<Diagnostic> context_;
};

// "did you mean" support: the candidate closest to `name` by edit distance,
// or "" when none is close enough to be a plausible typo.
std::string closestMatch(const std::string &name,
                         const std::vector<std::string> &candidates);

} // namespace expc
