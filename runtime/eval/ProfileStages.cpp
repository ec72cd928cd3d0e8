#include "eval/ProfileStages.h"

#include "eval/AveragePrecision.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

namespace exprt {

std::vector<int64_t> codesOf(const std::vector<std::string> &column) {
  std::map<std::string, int64_t> index;
  std::vector<int64_t> out;
  out.reserve(column.size());
  for (const std::string &v : column)
    out.push_back(index.emplace(v, int64_t(index.size())).first->second);
  return out;
}

namespace {

Status column(const Profiles &p, const std::string &name, const std::vector<std::string> *&out) {
  out = p.meta(name);
  if (!out) {
    std::string have;
    for (const std::string &n : p.metadataNames)
      have += (have.empty() ? "`" : ", `") + n + "`";
    return Status::error(ErrorKind::InputMismatch, "no metadata column `" + name + "` (the table has " +
                         (have.empty() ? "none" : have) + ")");
  }
  return Status::ok();
}

// Rows per value of `name` (one group of every row when `name` is "").
Status groupsOf(const Profiles &p, const std::string &name, std::vector<std::vector<int64_t>> &out) {
  out.clear();
  if (name.empty()) {
    out.emplace_back(p.rows());
    std::iota(out[0].begin(), out[0].end(), 0);
    return Status::ok();
  }
  const std::vector<std::string> *col = nullptr;
  if (Status s = column(p, name, col); !s)
    return s;
  std::vector<int64_t> codes = codesOf(*col);
  for (int64_t r = 0; r < int64_t(codes.size()); ++r) {
    if (codes[r] >= int64_t(out.size()))
      out.resize(codes[r] + 1);
    out[codes[r]].push_back(r);
  }
  return Status::ok();
}

torch::Tensor rowsOf(const std::vector<int64_t> &rows) { return torch::tensor(rows, torch::kInt64); }

// The reference rows among `rows` (all of them when no reference is given).
std::vector<int64_t> referenceRows(const std::vector<int64_t> &rows, const std::vector<bool> &reference) {
  if (reference.empty())
    return rows;
  std::vector<int64_t> out;
  for (int64_t r : rows)
    if (reference[r])
      out.push_back(r);
  return out;
}

Status needReference(const std::vector<int64_t> &ref, size_t minimum, const std::string &stage,
                     const std::string &where) {
  if (ref.size() < minimum)
    return Status::error(ErrorKind::EvaluationImpossible, stage + ": " + std::to_string(ref.size()) + " reference rows" + where +
                         " (needs at least " + std::to_string(minimum) + ")");
  return Status::ok();
}

// Eigen-decomposition of the covariance of `x` (centred): ascending.
void covarianceEigen(const torch::Tensor &xc, torch::Tensor &values, torch::Tensor &vectors) {
  torch::Tensor cov = torch::matmul(xc.t(), xc) / double(std::max<int64_t>(1, xc.size(0) - 1));
  std::tie(values, vectors) = torch::linalg_eigh(cov);
  values = values.clamp_min(0);
}

// (C + eps I)^power for a symmetric positive semi-definite C.
torch::Tensor matrixPower(const torch::Tensor &c, double power, double epsilon) {
  auto [values, vectors] = torch::linalg_eigh(c);
  return torch::matmul(vectors * (values.clamp_min(0) + epsilon).pow(power), vectors.t());
}

} // namespace

Status selectRows(const Profiles &p,
                  const std::vector<std::pair<std::string, std::vector<std::string>>> &where,
                  std::vector<bool> &out) {
  out.assign(p.rows(), true);
  for (const auto &[name, values] : where) {
    const std::vector<std::string> *col = nullptr;
    if (Status s = column(p, name, col); !s)
      return s;
    std::set<std::string> accept(values.begin(), values.end());
    for (int64_t r = 0; r < p.rows(); ++r)
      out[r] = out[r] && accept.count((*col)[r]);
  }
  return Status::ok();
}

Status aggregate(Profiles &p, const std::vector<std::string> &by, const std::string &method) {
  if (method != "mean" && method != "median")
    return Status::error(ErrorKind::PlanInvalid, "aggregate: method `" + method + "` (expected `mean` or `median`)");
  MetaColumns meta;
  for (const std::string &name : by) {
    const std::vector<std::string> *col = nullptr;
    if (Status s = column(p, name, col); !s)
      return s;
    meta.push_back(codesOf(*col));
  }
  std::vector<int> cols(by.size());
  std::iota(cols.begin(), cols.end(), 0);
  std::vector<int64_t> id = groupIds(meta, cols, p.rows());
  const int64_t groups = id.empty() ? 0 : *std::max_element(id.begin(), id.end()) + 1;
  std::vector<std::vector<int64_t>> members(groups);
  for (int64_t r = 0; r < p.rows(); ++r)
    members[id[r]].push_back(r);
  std::vector<torch::Tensor> out;
  for (const auto &m : members) {
    torch::Tensor x = p.features.index_select(0, rowsOf(m));
    out.push_back(method == "mean" ? x.nanmean(0) : x.nanquantile(0.5, 0));
  }
  Profiles q;
  q.featureNames = p.featureNames;
  q.features = groups ? torch::stack(out) : p.features.slice(0, 0, 0);
  for (size_t c = 0; c < p.metadataNames.size(); ++c) {
    const auto &col = p.metadata[c];
    bool keep = std::find(by.begin(), by.end(), p.metadataNames[c]) != by.end();
    if (!keep) {
      keep = true;
      for (const auto &m : members)
        for (int64_t r : m)
          keep = keep && col[r] == col[m[0]];
    }
    if (!keep)
      continue;
    q.metadataNames.push_back(p.metadataNames[c]);
    q.metadata.emplace_back();
    for (const auto &m : members)
      q.metadata.back().push_back(col[m[0]]);
  }
  p = std::move(q);
  return Status::ok();
}

Status robustMad(Profiles &p, const std::string &plate, const std::vector<bool> &reference,
                 double epsilon) {
  std::vector<std::vector<int64_t>> groups;
  if (Status s = groupsOf(p, plate, groups); !s)
    return s;
  const std::vector<std::string> *plates = plate.empty() ? nullptr : p.meta(plate);
  torch::Tensor out = p.features.clone();
  for (const auto &rows : groups) {
    std::vector<int64_t> ref = referenceRows(rows, reference);
    if (Status s = needReference(ref, 1, "robust MAD",
                                 plates ? " on plate `" + (*plates)[rows[0]] + "`" : "");
        !s)
      return s;
    torch::Tensor r = p.features.index_select(0, rowsOf(ref));
    torch::Tensor median = r.nanquantile(0.5, 0, /*keepdim=*/true);
    torch::Tensor mad = (r - median).abs().nanquantile(0.5, 0, /*keepdim=*/true) * 1.4826;
    torch::Tensor idx = rowsOf(rows);
    out.index_copy_(0, idx, (p.features.index_select(0, idx) - median) / (mad + epsilon));
  }
  p.features = out;
  return Status::ok();
}

Status sphere(Profiles &p, const std::vector<bool> &reference, const std::string &method,
              double epsilon) {
  if (method != "zca" && method != "pca")
    return Status::error(ErrorKind::PlanInvalid, "sphering: method `" + method + "` (expected `zca` or `pca`)");
  std::vector<int64_t> all(p.rows());
  std::iota(all.begin(), all.end(), 0);
  std::vector<int64_t> ref = referenceRows(all, reference);
  if (Status s = needReference(ref, 2, "sphering", ""); !s)
    return s;
  torch::Tensor r = p.features.index_select(0, rowsOf(ref));
  torch::Tensor mean = r.mean(0, true);
  torch::Tensor values, vectors;
  covarianceEigen(r - mean, values, vectors);
  torch::Tensor w = vectors * (values + epsilon).rsqrt(); // U S^-1/2: PCA whitening
  if (method == "zca")
    w = torch::matmul(w, vectors.t());
  p.features = torch::matmul(p.features - mean, w);
  if (method == "pca") { // components by decreasing variance, as PCA lists them
    p.features = p.features.flip(1);
    for (size_t j = 0; j < p.featureNames.size(); ++j)
      p.featureNames[j] = "PC" + std::to_string(j + 1);
  }
  return Status::ok();
}

Status tvn(Profiles &p, const std::vector<bool> &reference, const std::string &batch, double epsilon) {
  if (Status s = sphere(p, reference, "pca", epsilon); !s)
    return s;
  if (batch.empty())
    return Status::ok();
  std::vector<std::vector<int64_t>> groups;
  if (Status s = groupsOf(p, batch, groups); !s)
    return s;
  std::vector<int64_t> all(p.rows());
  std::iota(all.begin(), all.end(), 0);
  torch::Tensor pooledRef = p.features.index_select(0, rowsOf(referenceRows(all, reference)));
  torch::Tensor pooledMean = pooledRef.mean(0, true);
  torch::Tensor pc = pooledRef - pooledMean;
  torch::Tensor target = matrixPower(torch::matmul(pc.t(), pc) / double(pc.size(0) - 1), 0.5, epsilon);
  const std::vector<std::string> *names = p.meta(batch);
  torch::Tensor out = p.features.clone();
  for (const auto &rows : groups) {
    std::vector<int64_t> ref = referenceRows(rows, reference);
    if (Status s = needReference(ref, 2, "TVN's CORAL", " in batch `" + (*names)[rows[0]] + "`"); !s)
      return s;
    torch::Tensor r = p.features.index_select(0, rowsOf(ref));
    torch::Tensor mean = r.mean(0, true), rc = r - mean;
    torch::Tensor whiten =
        matrixPower(torch::matmul(rc.t(), rc) / double(rc.size(0) - 1), -0.5, epsilon);
    torch::Tensor idx = rowsOf(rows);
    out.index_copy_(0, idx,
                    torch::matmul(torch::matmul(p.features.index_select(0, idx) - mean, whiten), target) +
                        pooledMean);
  }
  p.features = out;
  return Status::ok();
}

Status pcaCenterScale(Profiles &p, const std::vector<bool> &reference, const std::string &batch,
                      int64_t components) {
  std::vector<std::vector<int64_t>> groups;
  if (Status s = groupsOf(p, batch, groups); !s)
    return s;
  torch::Tensor mean = p.features.mean(0, true);
  torch::Tensor values, vectors;
  covarianceEigen(p.features - mean, values, vectors);
  const int64_t d = vectors.size(1);
  const int64_t k = components > 0 ? std::min(components, d) : d;
  torch::Tensor x = torch::matmul(p.features - mean, vectors.flip(1).slice(1, 0, k));
  const std::vector<std::string> *names = batch.empty() ? nullptr : p.meta(batch);
  torch::Tensor out = x.clone();
  for (const auto &rows : groups) {
    std::vector<int64_t> ref = referenceRows(rows, reference);
    if (Status s = needReference(ref, 2, "center-scale",
                                 names ? " in batch `" + (*names)[rows[0]] + "`" : "");
        !s)
      return s;
    torch::Tensor r = x.index_select(0, rowsOf(ref));
    torch::Tensor idx = rowsOf(rows);
    out.index_copy_(0, idx, (x.index_select(0, idx) - r.mean(0, true)) / r.std(0, true, true).clamp_min(1e-12));
  }
  p.features = out;
  p.featureNames.resize(k);
  for (int64_t j = 0; j < k; ++j)
    p.featureNames[j] = "PC" + std::to_string(j + 1);
  return Status::ok();
}

Status selectFeatures(Profiles &p, const FeatureSelection &o, std::vector<std::string> &dropped) {
  const int64_t n = p.rows(), f = int64_t(p.featureNames.size());
  std::vector<bool> drop(f, false);
  std::set<std::string> blocked(o.blocklist.begin(), o.blocklist.end());
  torch::Tensor missing = p.features.isnan().to(torch::kFloat64).mean(0);
  torch::Tensor variance = p.features.nan_to_num(0).var(0, /*unbiased=*/true);
  for (int64_t j = 0; j < f; ++j) {
    drop[j] = blocked.count(p.featureNames[j]) || missing[j].item<double>() > o.naCutoff ||
              (o.varianceThreshold >= 0 && n > 1 && variance[j].item<double>() <= o.varianceThreshold);
  }
  if (o.corrThreshold < 1 && n > 2) {
    std::vector<int64_t> kept;
    for (int64_t j = 0; j < f; ++j)
      if (!drop[j])
        kept.push_back(j);
    torch::Tensor x = p.features.index_select(1, rowsOf(kept)).nan_to_num(0);
    torch::Tensor xc = x - x.mean(0, true);
    xc = xc / xc.norm(2, 0, true).clamp_min(1e-300);
    torch::Tensor r = torch::matmul(xc.t(), xc).abs().contiguous();
    const int64_t k = r.size(0);
    // Mean |r| with the other features: the pair member that correlates
    // more with everything goes.
    torch::Tensor meanAbs = (r.sum(1) - r.diagonal()) / double(std::max<int64_t>(1, k - 1));
    const double *rr = r.data_ptr<double>();
    const double *ma = meanAbs.data_ptr<double>();
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = a + 1; b < k; ++b)
        if (rr[a * k + b] > o.corrThreshold)
          drop[kept[ma[a] > ma[b] ? a : b]] = true;
  }
  std::vector<int64_t> keep;
  Profiles q = p;
  q.featureNames.clear();
  dropped.clear();
  for (int64_t j = 0; j < f; ++j) {
    if (drop[j]) {
      dropped.push_back(p.featureNames[j]);
      continue;
    }
    keep.push_back(j);
    q.featureNames.push_back(p.featureNames[j]);
  }
  if (keep.empty())
    return Status::error(ErrorKind::EvaluationImpossible, "feature selection dropped every feature");
  q.features = p.features.index_select(1, rowsOf(keep));
  p = std::move(q);
  return Status::ok();
}

} // namespace exprt
