#include "side/Transcriptome.h"

#include "prep/Csv.h"
#include "prep/H5ad.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <unordered_map>

namespace exprt {

Status readEmbeddingTable(const std::string &path, EmbeddingTable &table) {
  table = EmbeddingTable();
  CsvTable t;
  if (Status s = readCsv(path, t, path.find(".tsv") != std::string::npos ? '\t' : ','); !s)
    return s;
  if (t.header.size() < 2)
    return Status::error(ErrorKind::InputMalformed, path + ":1: an embedding table needs a name column and at least one value column");
  table.dim = static_cast<int64_t>(t.header.size() - 1);
  std::unordered_map<std::string, size_t> seen;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto &row = t.rows[r];
    if (!seen.emplace(row[0], r).second)
      return Status::error(ErrorKind::InputMalformed, t.where(r) + ": `" + row[0] + "` is named twice (also at line " +
                           std::to_string(t.lines[seen[row[0]]]) + ")");
    table.names.push_back(row[0]);
    for (size_t c = 1; c < row.size(); ++c) {
      char *end = nullptr;
      float v = std::strtof(row[c].c_str(), &end);
      if (row[c].empty() || *end != '\0' || !std::isfinite(v))
        return Status::error(ErrorKind::InputMalformed, t.where(r) + ": column `" + t.header[c] + "` is `" + row[c] + "`, not a number");
      table.values.push_back(v);
    }
  }
  if (table.names.empty())
    return Status::error(ErrorKind::InputMismatch, path + ": no rows");
  return Status::ok();
}

Status pseudoBulk(const AnnData &data, const std::string &groupBy, EmbeddingTable &bulk) {
  bulk = EmbeddingTable();
  const std::vector<std::string> *groups = nullptr;
  for (const auto &[name, values] : data.obsColumns)
    if (name == groupBy)
      groups = &values;
  if (!groups) {
    std::string have;
    for (const auto &[name, values] : data.obsColumns)
      have += (have.empty() ? "" : ", ") + name;
    return Status::error(ErrorKind::InputMismatch, "no obs column `" + groupBy + "` (the file has " + (have.empty() ? "none" : have) + ")");
  }
  std::map<std::string, int64_t> rowOf;
  for (const std::string &g : *groups)
    rowOf.emplace(g, 0);
  for (auto &[name, row] : rowOf) {
    row = static_cast<int64_t>(bulk.names.size());
    bulk.names.push_back(name);
  }
  bulk.dim = data.vars;
  std::vector<double> sum(bulk.names.size() * static_cast<size_t>(data.vars), 0.0);
  for (int64_t cell = 0; cell < data.obs; ++cell) {
    double *out = sum.data() + static_cast<size_t>(rowOf[(*groups)[static_cast<size_t>(cell)]] * data.vars);
    if (data.sparse) {
      for (int64_t k = data.indptr[static_cast<size_t>(cell)]; k < data.indptr[static_cast<size_t>(cell + 1)]; ++k)
        out[data.indices[static_cast<size_t>(k)]] += data.data[static_cast<size_t>(k)];
    } else {
      const float *in = data.dense.data() + static_cast<size_t>(cell * data.vars);
      for (int64_t g = 0; g < data.vars; ++g)
        out[g] += in[g];
    }
  }
  bulk.values.resize(sum.size());
  for (size_t r = 0; r < bulk.names.size(); ++r) {
    const double *in = sum.data() + r * static_cast<size_t>(data.vars);
    double total = std::accumulate(in, in + data.vars, 0.0);
    if (total <= 0)
      return Status::error(ErrorKind::InputMismatch, "cell line `" + bulk.names[r] + "` has no counts");
    for (int64_t g = 0; g < data.vars; ++g)
      bulk.values[r * static_cast<size_t>(data.vars) + static_cast<size_t>(g)] =
          static_cast<float>(std::log1p(in[g] * 1e4 / total));
  }
  return Status::ok();
}

Status reduceTable(const EmbeddingTable &in, int64_t dim, bool pca, EmbeddingTable &out) {
  out = EmbeddingTable();
  out.names = in.names;
  out.dim = dim;
  const int64_t n = static_cast<int64_t>(in.names.size());
  torch::Tensor x =
      torch::from_blob(const_cast<float *>(in.values.data()), {n, in.dim}, torch::kFloat32).to(torch::kFloat64);
  torch::Tensor centred = x - x.mean(0, true);
  torch::Tensor result = torch::zeros({n, dim}, torch::kFloat64);
  if (pca) {
    auto [u, s, vh] = torch::linalg::svd(centred, /*full_matrices=*/false, /*driver=*/c10::nullopt);
    int64_t k = std::min<int64_t>(dim, s.size(0));
    for (int64_t c = 0; c < k; ++c) {
      if (s[c].item<double>() < 1e-9 * std::max(1.0, s[0].item<double>()))
        break; // past the rank
      torch::Tensor loading = vh[c];
      double sign = loading.index({loading.abs().argmax()}).item<double>() < 0 ? -1.0 : 1.0;
      result.index_put_({torch::indexing::Slice(), c}, sign * centred.matmul(loading));
    }
  } else {
    if (in.dim < dim)
      return Status::error(ErrorKind::InputMismatch, "the table has " + std::to_string(in.dim) + " genes, fewer than `dim` = " +
                           std::to_string(dim) + " (use `pca = true` or a smaller `dim`)");
    torch::Tensor order = std::get<1>(centred.pow(2).sum(0).sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
    result = x.index_select(1, order.slice(0, 0, dim));
  }
  torch::Tensor f = result.to(torch::kFloat32).contiguous();
  out.values.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  return Status::ok();
}

namespace {
std::string normalized(const std::string &name) {
  std::string out;
  for (unsigned char c : name)
    if (!std::strchr(" -_./", c))
      out += static_cast<char>(std::toupper(c));
  return out;
}
} // namespace

Status mapNames(const std::vector<std::string> &keys, const EmbeddingTable &table, const std::string &what,
                std::vector<int64_t> &rows) {
  std::unordered_map<std::string, int64_t> exact, loose;
  for (size_t i = 0; i < table.names.size(); ++i) {
    exact.emplace(table.names[i], static_cast<int64_t>(i));
    loose.emplace(normalized(table.names[i]), static_cast<int64_t>(i));
  }
  rows.clear();
  std::vector<std::string> missing;
  for (const std::string &k : keys) {
    auto it = exact.find(k);
    auto near = it == exact.end() ? loose.find(normalized(k)) : loose.end();
    if (it != exact.end()) {
      rows.push_back(it->second);
    } else if (near != loose.end()) {
      rows.push_back(near->second);
    } else {
      missing.push_back(k);
      rows.push_back(-1);
    }
  }
  if (missing.empty())
    return Status::ok();
  std::string list, some;
  for (const std::string &m : missing)
    list += (list.empty() ? "`" : ", `") + m + "`";
  for (size_t i = 0; i < table.names.size() && i < 8; ++i)
    some += (some.empty() ? "" : ", ") + table.names[i];
  return Status::error(ErrorKind::InputMismatch, what + ": " + std::to_string(missing.size()) + " of " + std::to_string(keys.size()) +
                       " names have no row: " + list + " (the table has " + std::to_string(table.names.size()) +
                       " rows: " + some + (table.names.size() > 8 ? ", ..." : "") + ")");
}

} // namespace exprt
