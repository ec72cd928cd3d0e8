#include "diagnostics/Diagnostics.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <ostream>

namespace expc {

const std::vector<KindInfo> &allDiagnosticKinds() {
  static const std::vector<KindInfo> kinds = {
#define DIAGNOSTIC(NAME, SEV, CODE, FMT, ...) {#NAME, CODE, Severity::SEV},
#include "diagnostics/DiagnosticKinds.def"
  };
  return kinds;
}

DiagnosticBuilder::~DiagnosticBuilder() {
  if (engine_)
    engine_->report(std::move(diag_));
}

void DiagnosticEngine::report(Diagnostic d) {
  // Innermost contexts first; deep recursion keeps the three innermost and
  // the outermost (the user's own line).
  for (size_t k = 0; k < context_.size(); ++k) {
    size_t i = context_.size() - 1 - k;
    if (k < 3 || i == 0)
      d.notes.push_back(context_[i]);
  }
  if (dedupe_)
    for (const Diagnostic &seen : reported_)
      if (seen.code == d.code && seen.message == d.message &&
          seen.range.file == d.range.file && seen.range.beginLine == d.range.beginLine &&
          seen.range.beginCol == d.range.beginCol)
        return;
  if (d.severity == Severity::Error) {
    if (errors_ >= limit_) {
      if (!limitReported_) {
        limitReported_ = true;
        Diagnostic stop{DiagnosticId::TooManyErrors, Severity::Error,
                        diag::TooManyErrors.code,
                        fmt::format(fmt::runtime(diag::TooManyErrors.format),
                                    static_cast<int64_t>(limit_)),
                        {}, {}, {}, {}};
        out_ << (json_ ? renderJson(stop) : render(stop));
        reported_.push_back(std::move(stop));
      }
      return;
    }
    ++errors_;
  }
  out_ << (json_ ? renderJson(d) : render(d));
  out_.flush();
  reported_.push_back(std::move(d));
}

static const char *severityName(Severity s) {
  switch (s) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Note:
    return "note";
  }
  return "error";
}

// A source line as a terminal may show it: bytes that are not UTF-8 and
// control characters other than tab become U+FFFD, one column each (as the
// front end counts a bad byte), so no raw byte of a file reaches the terminal.
static std::string printable(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size();) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    const size_t len = validUtf8Length(line, i);
    if (len == 0 || (c < 0x20 && c != '\t') || c == 0x7f) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(line.substr(i, len));
      i += len;
    }
  }
  return out;
}

// The quoted line with a caret line under [beginCol, endCol). Tabs in the
// source are echoed into the caret line so the caret stays aligned.
static void renderSnippet(std::string &out, std::string_view source,
                          uint32_t lineNo, uint32_t beginCol, uint32_t endCol,
                          const std::string &fixit) {
  const std::string shown = printable(source);
  const std::string_view line = shown;
  std::string gutter = std::to_string(lineNo);
  std::string pad(gutter.size(), ' ');
  out += fmt::format(" {} | {}\n", gutter, line);
  std::string caret;
  uint32_t col = 1;
  size_t i = 0;
  for (; i < line.size() && col < beginCol; ++col) {
    caret += line[i] == '\t' ? '\t' : ' ';
    i += utf8SequenceLength(static_cast<unsigned char>(line[i]));
  }
  if (col < beginCol)
    caret.append(beginCol - col, ' ');
  uint32_t width = endCol > beginCol ? endCol - beginCol : 1;
  caret += '^';
  if (width > 1)
    caret.append(width - 1, '~');
  out += fmt::format(" {} | {}\n", pad, caret);
  if (!fixit.empty()) {
    std::string indent = caret.substr(0, caret.find('^'));
    out += fmt::format(" {} | {}{}\n", pad, indent, fixit);
  }
}

std::string DiagnosticEngine::render(const Diagnostic &d) const {
  std::string out;
  auto one = [&](const Diagnostic &x) {
    if (x.range.valid())
      out += fmt::format("{}:{}:{}: ", sources_.name(x.range.file),
                         x.range.beginLine, x.range.beginCol);
    out += fmt::format("{}: {}", severityName(x.severity), x.message);
    if (x.severity != Severity::Note)
      out += fmt::format(" [{}]", x.code);
    out += '\n';
    if (!x.range.valid())
      return;
    std::string_view line = sources_.line(x.range.file, x.range.beginLine);
    uint32_t endCol = x.range.endLine == x.range.beginLine
                          ? x.range.endCol
                          : static_cast<uint32_t>(line.size()) + 1;
    std::string fix;
    for (const FixIt &f : x.fixits)
      if (f.range.beginLine == x.range.beginLine &&
          f.range.beginCol == x.range.beginCol)
        fix = f.replacement;
    renderSnippet(out, line, x.range.beginLine, x.range.beginCol, endCol, fix);
  };
  one(d);
  if (!d.help.empty()) {
    std::string pad = d.range.valid()
                          ? std::string(std::to_string(d.range.beginLine).size(), ' ')
                          : std::string();
    out += fmt::format(" {} = help: {}\n", pad, d.help);
  }
  for (const Diagnostic &n : d.notes)
    one(n);
  return out;
}

std::string closestMatch(const std::string &name,
                         const std::vector<std::string> &candidates) {
  auto distance = [](const std::string &a, const std::string &b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
      prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t sub = prev[j - 1] + (std::tolower(a[i - 1]) != std::tolower(b[j - 1]));
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t bestDist = ~size_t(0);
  for (const std::string &c : candidates) {
    if (c == name)
      continue;
    size_t dist = distance(name, c);
    if (dist < bestDist) {
      bestDist = dist;
      best = c;
    }
  }
  // A plausible typo: at most a third of the name, and at least one edit.
  size_t limit = std::max<size_t>(1, (name.size() + 2) / 3);
  return bestDist <= limit ? best : std::string();
}

} // namespace expc

namespace expc {

std::string DiagnosticEngine::renderJson(const Diagnostic &d) const {
  auto range = [&](const SourceRange &r) {
    nlohmann::json j = nlohmann::json::object();
    if (!r.valid())
      return j;
    j["file"] = sources_.name(r.file);
    j["begin"] = {{"line", r.beginLine}, {"column", r.beginCol}};
    j["end"] = {{"line", r.endLine}, {"column", r.endCol}};
    return j;
  };
  auto one = [&](const Diagnostic &x) {
    nlohmann::json j;
    j["code"] = x.code;
    j["severity"] = severityName(x.severity);
    j["message"] = x.message;
    j["range"] = range(x.range);
    return j;
  };
  nlohmann::json j = one(d);
  j["notes"] = nlohmann::json::array();
  for (const Diagnostic &n : d.notes)
    j["notes"].push_back(one(n));
  if (!d.help.empty())
    j["help"] = d.help;
  j["fixits"] = nlohmann::json::array();
  for (const FixIt &f : d.fixits)
    j["fixits"].push_back({{"range", range(f.range)}, {"replacement", f.replacement}});
  // Invalid UTF-8 in quoted text is replaced, never thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

} // namespace expc
