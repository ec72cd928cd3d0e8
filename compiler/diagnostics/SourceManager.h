// Owns the text of every source file the compiler reads and maps positions in
// it back to lines, so diagnostics can quote the offending line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace expc {

using FileId = uint32_t;

// Bytes in the UTF-8 sequence that starts with `lead`.
inline unsigned utf8SequenceLength(unsigned char lead) {
  return lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : 4;
}

// The length of the valid UTF-8 sequence at s[i], or 0 when it is not one
// (a stray continuation byte, a cut sequence, an overlong encoding or a
// surrogate, all of which the ANTLR runtime would reject too).
inline size_t validUtf8Length(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  bool ok = len != 0 && i + len <= s.size();
  for (size_t k = 1; ok && k < len; ++k)
    ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  const unsigned char c1 = ok && len > 1 ? static_cast<unsigned char>(s[i + 1]) : 0;
  if (ok && len == 2)
    ok = c >= 0xC2;
  if (ok && len == 3)
    ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
  if (ok && len == 4)
    ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
  return ok ? len : 0;
}

// A half-open range [begin, end) in one file. Lines and columns are 1-based;
// columns count Unicode code points (the front end validates UTF-8 first).
struct SourceRange {
  FileId file = 0;
  uint32_t beginLine = 0, beginCol = 0;
  uint32_t endLine = 0, endCol = 0;

  bool valid() const { return beginLine != 0; }
  // The smallest range covering both.
  static SourceRange cover(const SourceRange &a, const SourceRange &b);
};

class SourceManager {
public:
  // Adds a buffer under a display name (the path as the user wrote it).
  FileId addBuffer(std::string name, std::string contents);
  // The largest source file read (a spec is kilobytes; offsets are 32-bit).
  static constexpr uint64_t kMaxFileBytes = uint64_t(64) << 20;
  // Reads a regular file; returns false and sets `error` on failure. It is
  // shown as `displayName` in messages (default: the path).
  bool addFile(const std::string &path, FileId &id, std::string &error,
               const std::string &displayName = "");

  const std::string &name(FileId id) const { return files_[id].name; }
  const std::string &contents(FileId id) const { return files_[id].contents; }
  // Text of a 1-based line without its newline; empty when out of range.
  std::string_view line(FileId id, uint32_t line) const;
  uint32_t lineCount(FileId id) const;

private:
  struct File {
    std::string name;
    std::string contents;
    std::vector<uint32_t> lineStarts; // byte offsets
  };
  std::vector<File> files_;
};

} // namespace expc
