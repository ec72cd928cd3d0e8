#include "prep/Csv.h"

#include "features/Switches.h"
#include "record/Json.h"

#if EXP_WITH_CSV
#include <csv.h>
#endif
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace exprt {

int CsvTable::column(const std::string &name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name)
      return static_cast<int>(i);
  return -1;
}

Status CsvTable::require(const std::vector<std::string> &names, std::vector<int> &indices) const {
  indices.clear();
  for (const std::string &n : names) {
    int i = column(n);
    if (i < 0)
      return Status::error(ErrorKind::InputMismatch, path + ":1: no column `" + n + "` in the header");
    indices.push_back(i);
  }
  return Status::ok();
}

std::string CsvTable::where(size_t r) const { return path + ":" + std::to_string(lines[r]); }

namespace {

bool needsQuotes(const std::string &s, char delimiter) {
  return s.find_first_of(std::string("\"\n\r") + delimiter) != std::string::npos;
}

#if EXP_WITH_CSV
// libcsv calls back per field and per row end; this collects them and checks
// each row against the header.
struct Collector {
  CsvTable &table;
  const CsvRowSink *sink = nullptr; // streaming: rows go here, not into `table`
  std::vector<std::string> row;
  int64_t line = 1;    // the physical line being fed
  int64_t rowLine = 0; // where the current row began (0: no field yet)
  std::string error;
  ErrorKind errorKind = ErrorKind::InputMalformed; // of `error`: a row's own, or a field count

  // A column named twice is ambiguous (which one does `Metadata_Plate` or a
  // feature mean?): refused, where pandas would rename one silently.
  void checkHeader() {
    std::unordered_map<std::string, size_t> first;
    for (size_t i = 0; i < table.header.size() && error.empty(); ++i)
      if (auto [it, fresh] = first.emplace(table.header[i], i); !fresh && !table.header[i].empty())
        error = table.path + ":1: column `" + table.header[i] + "` is named twice (columns " +
                std::to_string(it->second + 1) + " and " + std::to_string(i + 1) + ")";
  }

  void field(const char *s, size_t n) {
    if (rowLine == 0)
      rowLine = line;
    row.emplace_back(s, n);
  }
  void end() {
    if (rowLine == 0)
      rowLine = line;
    if (table.header.empty()) {
      table.header = std::move(row);
      checkHeader();
    } else if (error.empty() && row.size() != table.header.size() &&
               !(row.size() == 1 && row[0].empty())) {
      error = table.path + ":" + std::to_string(rowLine) + ": the row has " +
              std::to_string(row.size()) + " fields, the header " +
              std::to_string(table.header.size());
    } else if (!(row.size() == 1 && row[0].empty()) && error.empty()) {
      if (!sink) {
        table.rows.push_back(std::move(row));
        table.lines.push_back(rowLine);
      } else if (Status s = (*sink)(table, row, rowLine); !s) {
        error = s.message();
        errorKind = s.kind();
      }
    }
    row.clear();
    rowLine = 0;
  }
};

void onField(void *s, size_t n, void *data) {
  static_cast<Collector *>(data)->field(s ? static_cast<const char *>(s) : "", n);
}
void onRow(int, void *data) { static_cast<Collector *>(data)->end(); }

Status parseCsv(const std::string &path, CsvTable &table, char delimiter, const CsvRowSink *sink) {
  table = CsvTable();
  table.path = path;
  // zlib reads plain files unchanged, so one path serves .csv and .csv.gz.
  std::unique_ptr<gzFile_s, int (*)(gzFile)> in(gzopen(path.c_str(), "rb"), gzclose);
  if (!in)
    return Status::error(ErrorKind::InputUnreadable, path + ": cannot open: " + std::strerror(errno));
  csv_parser parser;
  csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
  csv_set_delim(&parser, static_cast<unsigned char>(delimiter));
  std::unique_ptr<csv_parser, void (*)(csv_parser *)> guard(&parser, csv_free);
  Collector c{table, sink};
  std::vector<char> buf(1 << 16);
  int got = 0;
  while ((got = gzread(in.get(), buf.data(), static_cast<unsigned>(buf.size()))) > 0) {
    // Fed a physical line (or the part of one in this block) at a time, so
    // rows know their line numbers. A NUL byte would end a C string early
    // and lose the rest of its row, so it is refused.
    for (const char *p = buf.data(), *end = p + got; p < end;) {
      const char *nl = static_cast<const char *>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      const size_t n = static_cast<size_t>((nl ? nl + 1 : end) - p);
      if (std::memchr(p, '\0', n))
        return Status::error(ErrorKind::InputMalformed, path + ":" + std::to_string(c.line) +
                                                            ": a NUL byte (a binary or damaged file?)");
      if (csv_parse(&parser, p, n, onField, onRow, &c) != n)
        return Status::error(ErrorKind::InputMalformed, path + ":" + std::to_string(c.line) +
                                                            ": malformed CSV: " + csv_strerror(csv_error(&parser)));
      if (!c.error.empty())
        return Status::error(c.errorKind, c.error);
      c.line += nl ? 1 : 0;
      p += n;
    }
  }
  int err = 0;
  const char *gzerr = gzerror(in.get(), &err);
  if (err != Z_OK && err != Z_STREAM_END)
    return Status::error(ErrorKind::InputUnreadable, path + ":" + std::to_string(c.line) + ": cannot read: " +
                         (err == Z_ERRNO ? std::strerror(errno) : gzerr));
  if (csv_fini(&parser, onField, onRow, &c) != 0)
    return Status::error(ErrorKind::InputMalformed, path + ":" + std::to_string(c.rowLine ? c.rowLine : c.line) +
                         ": malformed CSV: a quoted field is not closed");
  if (!c.error.empty())
    return Status::error(c.errorKind, c.error);
  if (table.header.empty())
    return Status::error(ErrorKind::InputMalformed, path + ": empty file (no header row)");
  return Status::ok();
}
#else
Status parseCsv(const std::string &path, CsvTable &table, char, const CsvRowSink *) {
  table = CsvTable();
  table.path = path;
  return missingFeature(BuildFeature::Csv, path);
}
#endif

} // namespace

Status readCsv(const std::string &path, CsvTable &table, char delimiter) {
  return parseCsv(path, table, delimiter, nullptr);
}

Status readCsvRows(const std::string &path, char delimiter, const CsvRowSink &sink) {
  CsvTable header;
  return parseCsv(path, header, delimiter, &sink);
}

Status writeCsv(const std::string &path, const std::vector<std::string> &header,
                const std::vector<std::vector<std::string>> &rows, char delimiter) {
  std::string out;
  auto line = [&](const std::vector<std::string> &fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i)
        out += delimiter;
      if (!needsQuotes(fields[i], delimiter)) {
        out += fields[i];
        continue;
      }
      out += '"';
      for (char ch : fields[i])
        out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      out += '"';
    }
    out += '\n';
  };
  line(header);
  for (const auto &r : rows)
    line(r);
  return writeTextFile(path, out);
}

Status writeTextFile(const std::string &path, const std::string &out) {
  if (path.size() < 3 || path.compare(path.size() - 3, 3, ".gz") != 0)
    return writeFileAtomic(path, out);
  // gzip framing (windowBits 15 + 16), compressed in memory and written atomically.
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot compress");
  std::string gz(deflateBound(&z, out.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(out.data())); // zlib does not write it
  z.avail_in = static_cast<uInt>(out.size());
  z.next_out = reinterpret_cast<Bytef *>(gz.data());
  z.avail_out = static_cast<uInt>(gz.size());
  int rc = deflate(&z, Z_FINISH);
  gz.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END)
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot compress");
  return writeFileAtomic(path, gz);
}

} // namespace exprt
