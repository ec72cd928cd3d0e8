// Delimited text tables (CSV, TSV; gzip-compressed or not) read through
// libcsv, with every row's line number kept for error messages.
#pragma once

#include "exprt/Status.h"

#include <functional>
#include <string>
#include <vector>

namespace exprt {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines; // the line each row starts on (the header is line 1)

  // The index of column `name`, or -1.
  int column(const std::string &name) const;
  // Indices of `names`; an error naming the file and the first missing one.
  Status require(const std::vector<std::string> &names, std::vector<int> &indices) const;
  // "PATH:LINE" of row `r`, for messages.
  std::string where(size_t r) const;
};

// Reads `path` (gzip-compressed when it is; quoted fields may hold the
// delimiter, quotes and newlines). A row whose field count differs from the
// header's, an unterminated quote or an unreadable file is an error naming
// the file and line.
Status readCsv(const std::string &path, CsvTable &table, char delimiter = ',');

// Streams the rows of `path` (as readCsv reads it) to `sink` with the header
// (in `header.header`; `header.path` for messages) and the row's line,
// keeping none: for tables too large to hold as strings (STRING's 13 million
// links). The first error `sink` returns stops the read.
using CsvRowSink =
    std::function<Status(const CsvTable &header, const std::vector<std::string> &row, int64_t line)>;
Status readCsvRows(const std::string &path, char delimiter, const CsvRowSink &sink);

// Writes `header` and `rows` to `path` atomically, quoting fields that need
// it; gzip-compressed when `path` ends in .gz.
Status writeCsv(const std::string &path, const std::vector<std::string> &header,
                const std::vector<std::vector<std::string>> &rows, char delimiter = ',');

// Writes `text` to `path` atomically; gzip-compressed when `path` ends in .gz.
Status writeTextFile(const std::string &path, const std::string &text);

} // namespace exprt
