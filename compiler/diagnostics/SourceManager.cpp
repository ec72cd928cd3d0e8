#include "diagnostics/SourceManager.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

namespace expc {

SourceRange SourceRange::cover(const SourceRange &a, const SourceRange &b) {
  if (!a.valid())
    return b;
  if (!b.valid())
    return a;
  if (a.file != b.file) // e.g. an argument name in the file, its value overridden
    return b;
  SourceRange r = a;
  if (std::tie(b.beginLine, b.beginCol) < std::tie(a.beginLine, a.beginCol)) {
    r.beginLine = b.beginLine;
    r.beginCol = b.beginCol;
  }
  if (std::tie(b.endLine, b.endCol) > std::tie(a.endLine, a.endCol)) {
    r.endLine = b.endLine;
    r.endCol = b.endCol;
  }
  return r;
}

FileId SourceManager::addBuffer(std::string name, std::string contents) {
  File f{std::move(name), std::move(contents), {0}};
  for (uint32_t i = 0; i < f.contents.size(); ++i)
    if (f.contents[i] == '\n')
      f.lineStarts.push_back(i + 1);
  files_.push_back(std::move(f));
  return static_cast<FileId>(files_.size() - 1);
}

bool SourceManager::addFile(const std::string &path, FileId &id, std::string &error,
                            const std::string &displayName) {
  // Only a regular file: a directory reads as nothing, and a FIFO or a
  // device would block or never end.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (std::filesystem::is_directory(status)) {
    error = "it is a directory, not a file";
    return false;
  }
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    error = "it is not a regular file (a FIFO, socket or device)";
    return false;
  }
  if (std::filesystem::exists(status) && std::filesystem::file_size(path, ec) > kMaxFileBytes) {
    error = "it is larger than " + std::to_string(kMaxFileBytes >> 20) + " MiB, the limit for a source file";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open file";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = "cannot read file";
    return false;
  }
  id = addBuffer(displayName.empty() ? path : displayName, ss.str());
  return true;
}

std::string_view SourceManager::line(FileId id, uint32_t line) const {
  const File &f = files_[id];
  if (line == 0 || line > f.lineStarts.size())
    return {};
  uint32_t begin = f.lineStarts[line - 1];
  uint32_t end = line < f.lineStarts.size() ? f.lineStarts[line] - 1
                                            : static_cast<uint32_t>(f.contents.size());
  std::string_view text(f.contents.data() + begin, end - begin);
  if (!text.empty() && text.back() == '\r')
    text.remove_suffix(1);
  return text;
}

uint32_t SourceManager::lineCount(FileId id) const {
  return static_cast<uint32_t>(files_[id].lineStarts.size());
}

} // namespace expc
