#include "prep/Profiles.h"

#include "features/Switches.h"
#include "prep/Csv.h"

#include <algorithm>
#if EXP_WITH_SQLITE
#include <sqlite3.h>
#endif
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <memory>

namespace exprt {

const std::vector<std::string> *Profiles::meta(const std::string &name) const {
  for (size_t i = 0; i < metadataNames.size(); ++i)
    if (metadataNames[i] == name)
      return &metadata[i];
  return nullptr;
}

namespace {

bool isMetadataName(const std::string &name, const std::vector<std::string> &extra) {
  return name.rfind("Metadata_", 0) == 0 || name.find("_Metadata_") != std::string::npos ||
         std::find(extra.begin(), extra.end(), name) != extra.end();
}

constexpr const char *kNotANumber = "not a number (metadata columns are named Metadata_*)";
constexpr const char *kNotFinite = "not a finite number (a missing value is written empty, NA or NaN)";

// A cell as a number, NaN for a missing value; or what is wrong with it:
// something else, or an infinity (`inf`, `-Infinity`, `1e999`), which no
// profile stage or metric can use.
const char *parseNumber(const std::string &cell, double &out) {
  if (cell.empty() || cell == "NA" || cell == "NaN" || cell == "nan" || cell == "null") {
    out = std::nan("");
    return nullptr;
  }
  char *end = nullptr;
  double v = std::strtod(cell.c_str(), &end);
  if (end == cell.c_str() || *end != '\0')
    return kNotANumber;
  if (std::isinf(v))
    return kNotFinite;
  out = v;
  return nullptr;
}

#if EXP_WITH_SQLITE
Status sqliteCellError(const std::string &path, const std::string &table, int64_t row, const char *column,
                       const std::string &cell, const char *problem) {
  return Status::error(ErrorKind::InputMalformed, path + ": table `" + table + "`, row " + std::to_string(row) +
                                                      ": feature column `" + column + "` holds `" + cell + "`, " +
                                                      problem);
}
#endif

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

Status readProfilesCsv(const std::string &path, Profiles &p, const std::vector<std::string> &metadata) {
  p = Profiles();
  // Streamed: a 100,000-row table is held as numbers, never as strings.
  std::vector<int> metaCols, featureCols;
  std::vector<double> values;
  Status s = readCsvRows(path, endsWith(path, ".tsv") ? '\t' : ',',
                         [&](const CsvTable &t, const std::vector<std::string> &row, int64_t line) {
    if (p.featureNames.empty() && p.metadataNames.empty()) {
      for (size_t c = 0; c < t.header.size(); ++c) {
        bool meta = isMetadataName(t.header[c], metadata);
        (meta ? metaCols : featureCols).push_back(static_cast<int>(c));
        (meta ? p.metadataNames : p.featureNames).push_back(t.header[c]);
      }
      if (featureCols.empty())
        return Status::error(ErrorKind::InputMismatch, path + ":1: no feature columns (every column is Metadata_*)");
      p.metadata.resize(metaCols.size());
    }
    for (size_t m = 0; m < metaCols.size(); ++m)
      p.metadata[m].push_back(row[metaCols[m]]);
    for (int c : featureCols) {
      double x = 0;
      if (const char *problem = parseNumber(row[c], x))
        return Status::error(ErrorKind::InputMalformed, path + ":" + std::to_string(line) + ": feature column `" +
                                                            t.header[c] + "` holds `" + row[c] + "`, " + problem);
      values.push_back(x);
    }
    return Status::ok();
  });
  if (!s)
    return s;
  if (p.featureNames.empty())
    return Status::error(ErrorKind::InputMismatch, path + ": no rows (a profile table needs a header and rows)");
  const int64_t n = static_cast<int64_t>(values.size() / p.featureNames.size());
  p.features = torch::tensor(values, torch::kFloat64).reshape({n, int64_t(p.featureNames.size())});
  return Status::ok();
}

#if EXP_WITH_SQLITE
Status readProfilesSqlite(const std::string &path, const std::string &table, Profiles &p,
                          const std::vector<std::string> &metadata) {
  p = Profiles();
  sqlite3 *raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3 *)> db(raw, sqlite3_close);
  if (rc != SQLITE_OK)
    return Status::error(ErrorKind::InputUnreadable, path + ": cannot open as SQLite: " + sqlite3_errstr(rc));
  // Identifiers cannot be bound; the table name is checked against the schema.
  sqlite3_stmt *rawStmt = nullptr;
  rc = sqlite3_prepare_v2(db.get(), "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
                          -1, &rawStmt, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt *)> lookup(rawStmt, sqlite3_finalize);
  if (rc != SQLITE_OK)
    return Status::error(ErrorKind::InputMalformed, path + ": not a readable SQLite database: " + sqlite3_errmsg(db.get()));
  sqlite3_bind_text(lookup.get(), 1, table.c_str(), -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(lookup.get());
  if (rc == SQLITE_DONE)
    return Status::error(ErrorKind::InputMismatch, path + ": no table `" + table + "`");
  if (rc != SQLITE_ROW)
    return Status::error(ErrorKind::InputMalformed, path + ": not a readable SQLite database: " + sqlite3_errmsg(db.get()));
  std::string sql = "SELECT * FROM \"" + table + "\"";
  rc = sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &rawStmt, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt *)> stmt(rawStmt, sqlite3_finalize);
  if (rc != SQLITE_OK)
    return Status::error(ErrorKind::InputMalformed, path + ": table `" + table + "`: " + sqlite3_errmsg(db.get()));
  // Metadata: Metadata_* names, object keys and columns declared as text.
  const int cols = sqlite3_column_count(stmt.get());
  std::vector<bool> isMeta(cols);
  std::vector<int> metaCols, featureCols;
  for (int c = 0; c < cols; ++c) {
    std::string name = sqlite3_column_name(stmt.get(), c);
    const char *decl = sqlite3_column_decltype(stmt.get(), c);
    std::string type = decl ? decl : "";
    for (char &ch : type)
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    bool text = type.find("CHAR") != std::string::npos || type.find("TEXT") != std::string::npos ||
                type.find("CLOB") != std::string::npos;
    isMeta[c] = isMetadataName(name, metadata) || text || name == "TableNumber" || name == "ImageNumber" ||
                name == "ObjectNumber";
    (isMeta[c] ? metaCols : featureCols).push_back(c);
    (isMeta[c] ? p.metadataNames : p.featureNames).push_back(name);
  }
  if (featureCols.empty())
    return Status::error(ErrorKind::InputMismatch, path + ": table `" + table + "` has no numeric feature columns");
  p.metadata.resize(metaCols.size());
  std::vector<double> values;
  int64_t row = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    ++row;
    for (size_t m = 0; m < metaCols.size(); ++m) {
      const unsigned char *v = sqlite3_column_text(stmt.get(), metaCols[m]);
      p.metadata[m].push_back(v ? reinterpret_cast<const char *>(v) : "");
    }
    for (int c : featureCols) {
      switch (sqlite3_column_type(stmt.get(), c)) {
      case SQLITE_NULL:
        values.push_back(std::nan(""));
        break;
      case SQLITE_INTEGER:
      case SQLITE_FLOAT:
        values.push_back(sqlite3_column_double(stmt.get(), c));
        if (std::isinf(values.back()))
          return sqliteCellError(path, table, row, sqlite3_column_name(stmt.get(), c),
                                 values.back() > 0 ? "inf" : "-inf", kNotFinite);
        break;
      default: {
        const unsigned char *v = sqlite3_column_text(stmt.get(), c);
        std::string cell = v ? reinterpret_cast<const char *>(v) : "";
        double x = 0;
        if (const char *problem = parseNumber(cell, x))
          return sqliteCellError(path, table, row, sqlite3_column_name(stmt.get(), c), cell, problem);
        values.push_back(x);
      }
      }
    }
  }
  if (rc != SQLITE_DONE)
    return Status::error(ErrorKind::InputMalformed, path + ": table `" + table + "`, after row " + std::to_string(row) +
                         ": " + sqlite3_errmsg(db.get()) + " (truncated or corrupt?)");
  p.features = torch::tensor(values, torch::kFloat64)
                   .reshape({row, static_cast<int64_t>(featureCols.size())});
  return Status::ok();
}

#else
Status readProfilesSqlite(const std::string &path, const std::string &, Profiles &p,
                          const std::vector<std::string> &) {
  p = Profiles();
  return missingFeature(BuildFeature::Sqlite, path);
}
#endif

Status readProfiles(const std::string &path, const std::string &table, Profiles &profiles,
                    const std::vector<std::string> &metadata) {
  if (endsWith(path, ".parquet"))
    return Status::error(ErrorKind::InputUnsupported, path + ": Parquet has no maintained reader in Debian bookworm's C++ "
                                "libraries; convert it to CSV first, e.g. with DuckDB: "
                                "COPY (SELECT * FROM 'FILE.parquet') TO 'FILE.csv.gz' (HEADER)");
  if (endsWith(path, ".sqlite") || endsWith(path, ".db"))
    return readProfilesSqlite(path, table, profiles, metadata);
  if (endsWith(path, ".csv") || endsWith(path, ".csv.gz") || endsWith(path, ".tsv"))
    return readProfilesCsv(path, profiles, metadata);
  return Status::error(ErrorKind::InputUnsupported, path + ": unknown profile format; expected .csv, .csv.gz, .tsv, .sqlite or .db");
}

} // namespace exprt
