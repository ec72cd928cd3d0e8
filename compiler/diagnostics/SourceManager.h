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
  // Reads a file; returns false and sets `error` on failure. It is shown as
  // `displayName` in messages (default: the path).
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
