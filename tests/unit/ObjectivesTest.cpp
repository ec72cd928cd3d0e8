// Every objective of runtime/losses/Objectives.cpp in float64: its value against a
// direct, loop-by-loop transcription of the formula (docs/objectives.md),
// and its autograd gradient against central finite differences.
#include "losses/Objectives.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <set>

using namespace exprt;

namespace {

using Mat = std::vector<std::vector<double>>;
using Vec = std::vector<double>;

Mat mat(const torch::Tensor &t) {
  auto a = t.contiguous().to(torch::kFloat64);
  Mat m(a.size(0), Vec(a.size(1)));
  for (int64_t i = 0; i < a.size(0); ++i)
    for (int64_t j = 0; j < a.size(1); ++j)
      m[i][j] = a[i][j].item<double>();
  return m;
}
std::vector<int64_t> ints(const torch::Tensor &t) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < t.size(0); ++i)
    v.push_back(t[i].item<int64_t>());
  return v;
}
double dot(const Vec &a, const Vec &b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    s += a[i] * b[i];
  return s;
}
Vec unit(const Vec &a) {
  double n = std::sqrt(dot(a, a));
  Vec out = a;
  for (double &x : out)
    x /= n;
  return out;
}
Mat units(const Mat &m) {
  Mat out;
  for (const Vec &r : m)
    out.push_back(unit(r));
  return out;
}
double logSumExp(const Vec &v) {
  double m = -INFINITY;
  for (double x : v)
    m = std::max(m, x);
  double s = 0;
  for (double x : v)
    s += std::exp(x - m);
  return m + std::log(s);
}
double logSigmoid(double x) { return -std::log1p(std::exp(-x)); }
Mat cosines(const Mat &a, const Mat &b) {
  Mat an = units(a), bn = units(b), out(a.size(), Vec(b.size()));
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b.size(); ++j)
      out[i][j] = dot(an[i], bn[j]);
  return out;
}

// -- Direct transcriptions ---------------------------------------------------

double cwclDirect(const Mat &img, const Mat &txt, const std::vector<Mat> &feat, double scale) {
  const size_t n = img.size(), c = feat[0].size();
  Mat s = cosines(img, txt);
  double t2i = 0, i2t = 0;
  for (size_t j = 0; j < n; ++j) { // text j against every image
    Vec col;
    for (size_t i = 0; i < n; ++i)
      col.push_back(scale * s[i][j]);
    t2i += logSumExp(col) - scale * s[j][j];
  }
  for (size_t i = 0; i < n; ++i) {
    Vec w(n);
    double total = 0;
    for (size_t j = 0; j < n; ++j) {
      double m = 0;
      for (size_t ch = 0; ch < c; ++ch)
        m += dot(unit(feat[i][ch]), unit(feat[j][ch])) / double(c);
      w[j] = m / 2 + 0.5;
      total += w[j];
    }
    Vec row;
    for (size_t j = 0; j < n; ++j)
      row.push_back(scale * s[i][j]);
    double lse = logSumExp(row);
    for (size_t j = 0; j < n; ++j)
      i2t -= w[j] / total * (scale * s[i][j] - lse);
  }
  return 0.5 * (t2i / double(n) + i2t / double(n));
}

Mat hopfieldDirect(const Mat &q, const Mat &mem, double beta) {
  Mat out;
  for (const Vec &x : q) {
    Vec scores;
    for (const Vec &m : mem)
      scores.push_back(beta * dot(x, m));
    double lse = logSumExp(scores);
    Vec r(mem[0].size(), 0.0);
    for (size_t j = 0; j < mem.size(); ++j)
      for (size_t k = 0; k < r.size(); ++k)
        r[k] += std::exp(scores[j] - lse) * mem[j][k];
    out.push_back(unit(r));
  }
  return out;
}
double infoLoobDirect(const Mat &x, const Mat &y, double invTau) {
  double total = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    Vec neg;
    for (size_t j = 0; j < y.size(); ++j)
      if (j != i)
        neg.push_back(invTau * dot(x[i], y[j]));
    total += logSumExp(neg) - invTau * dot(x[i], y[i]);
  }
  return total / double(x.size());
}
// ml-jku/cloob's `cloob`: p_xx, p_xy (the image memory queried by images and
// by texts), p_yy, p_yx (the text memory); loss_img = infoLOOB(p_xx, p_xy),
// loss_txt = infoLOOB(p_yy, p_yx), each times tau.
double cloobDirect(const Mat &a0, const Mat &b0, double invTau, double beta) {
  Mat x = units(a0), y = units(b0);
  Mat pxx = hopfieldDirect(x, x, beta), pxy = hopfieldDirect(y, x, beta);
  Mat pyy = hopfieldDirect(y, y, beta), pyx = hopfieldDirect(x, y, beta);
  return (infoLoobDirect(pxx, pxy, invTau) + infoLoobDirect(pyy, pyx, invTau)) / invTau;
}

double sigmoidDirect(const Mat &a, const Mat &b, double scale, double bias, const Mat &soft) {
  Mat s = cosines(a, b);
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b.size(); ++j) {
      double l = scale * s[i][j] + bias, y = soft[i][j];
      total -= y * logSigmoid(l) + (1 - y) * logSigmoid(-l);
    }
  return total / double(a.size());
}
Mat identity(size_t n) {
  Mat m(n, Vec(n, 0.0));
  for (size_t i = 0; i < n; ++i)
    m[i][i] = 1;
  return m;
}
Mat tanimoto(const Mat &t) {
  Mat s(t.size(), Vec(t.size()));
  for (size_t i = 0; i < t.size(); ++i)
    for (size_t j = 0; j < t.size(); ++j)
      s[i][j] = i == j ? 1.0 : dot(t[i], t[j]) / (dot(t[i], t[i]) + dot(t[j], t[j]) - dot(t[i], t[j]));
  return s;
}

double supconDirect(const Mat &z0, const std::vector<int64_t> &labels, double temperature) {
  Mat z = units(z0);
  double total = 0;
  int anchors = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    Vec others;
    for (size_t a = 0; a < z.size(); ++a)
      if (a != i)
        others.push_back(dot(z[i], z[a]) / temperature);
    double lse = logSumExp(others), sum = 0;
    int positives = 0;
    for (size_t p = 0; p < z.size(); ++p)
      if (p != i && labels[p] == labels[i]) {
        sum += dot(z[i], z[p]) / temperature - lse;
        ++positives;
      }
    if (positives) {
      total -= sum / positives;
      ++anchors;
    }
  }
  return total / anchors;
}

// Class means (normalised) over the batch's classes, ascending by code.
std::pair<Mat, std::vector<int64_t>> classMeansDirect(const Mat &x, const std::vector<int64_t> &labels) {
  std::set<int64_t> present(labels.begin(), labels.end());
  Mat f;
  for (int64_t c : present) {
    Vec m(x[0].size(), 0.0);
    int count = 0;
    for (size_t i = 0; i < x.size(); ++i)
      if (labels[i] == c) {
        for (size_t k = 0; k < m.size(); ++k)
          m[k] += x[i][k];
        ++count;
      }
    for (double &v : m)
      v /= count;
    f.push_back(unit(m));
  }
  return {f, std::vector<int64_t>(present.begin(), present.end())};
}
double kgSoftDirect(const Mat &x, const std::vector<int64_t> &labels, const Mat &w, double tau) {
  auto [f, codes] = classMeansDirect(x, labels);
  double total = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    Vec row;
    for (size_t j = 0; j < f.size(); ++j)
      if (j != i)
        row.push_back(dot(f[i], f[j]) / tau);
    double lse = logSumExp(row);
    for (size_t j = 0; j < f.size(); ++j)
      if (j != i)
        total -= w[codes[i]][codes[j]] * (dot(f[i], f[j]) / tau - lse);
  }
  return total / double(f.size());
}
double kgLaplacianDirect(const Mat &x, const std::vector<int64_t> &labels, const Mat &w) {
  auto [f, codes] = classMeansDirect(x, labels);
  const size_t k = f.size();
  Vec deg(k, 0.0);
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j)
      deg[i] += w[codes[i]][codes[j]];
  double trace = 0; // sum_ij L_ij f_i . f_j
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j) {
      double a = deg[i] > 0 && deg[j] > 0 ? w[codes[i]][codes[j]] / std::sqrt(deg[i] * deg[j]) : 0;
      trace += ((i == j ? 1.0 : 0.0) - a) * dot(f[i], f[j]);
    }
  return trace / double(k);
}

double smoothedCe(const Vec &logits, int64_t label, double eps) {
  double lse = logSumExp(logits), loss = 0;
  for (size_t k = 0; k < logits.size(); ++k) {
    double target = (1 - eps) * (int64_t(k) == label ? 1.0 : 0.0) + eps / double(logits.size());
    loss -= target * (logits[k] - lse);
  }
  return loss;
}
double classifyDirect(const Mat &x, const std::vector<int64_t> &labels, const Mat &w, const Vec &b, double eps) {
  double total = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    Vec logits;
    for (size_t k = 0; k < w.size(); ++k)
      logits.push_back(dot(x[i], w[k]) + b[k]);
    total += smoothedCe(logits, labels[i], eps);
  }
  return total / double(x.size());
}
double arcfaceDirect(const Mat &x, const std::vector<int64_t> &labels, const Mat &w, double s, double m) {
  Mat c = cosines(x, w);
  double total = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    Vec logits;
    for (size_t k = 0; k < w.size(); ++k) {
      double cos = c[i][k];
      if (int64_t(k) == labels[i]) {
        double theta = std::acos(cos);
        cos = theta + m < M_PI ? std::cos(theta + m) : cos - std::sin(M_PI - m) * m;
      }
      logits.push_back(s * cos);
    }
    total += smoothedCe(logits, labels[i], 0);
  }
  return total / double(x.size());
}
double simclrDirect(const Mat &a, const Mat &b, double temperature) {
  Mat z = units(a);
  for (const Vec &r : units(b))
    z.push_back(r);
  const size_t n = a.size();
  double total = 0;
  for (size_t i = 0; i < 2 * n; ++i) {
    Vec row;
    for (size_t j = 0; j < 2 * n; ++j)
      if (j != i)
        row.push_back(dot(z[i], z[j]) / temperature);
    size_t pos = i < n ? i + n : i - n;
    total += logSumExp(row) - dot(z[i], z[pos]) / temperature;
  }
  return total / double(2 * n);
}

// -- Harness -----------------------------------------------------------------

torch::Tensor randn(std::vector<int64_t> shape) { return torch::randn(shape, torch::kFloat64); }

// The objective's value matches `direct`, and the gradient of every floating
// operand matches central differences (h = 1e-6) to 1e-5 relative (1e-8 absolute). Operands
// in `data` are inputs the objective treats as constants (CWCL's features,
// S2L's fingerprints, MAE's target pixels): no gradient reaches them.
void check(Objective kind, std::vector<torch::Tensor> in, const std::map<std::string, double> &params,
           double direct, std::set<size_t> data = {}) {
  for (size_t k = 0; k < in.size(); ++k)
    if (in[k].is_floating_point())
      in[k] = in[k].clone().requires_grad_(true);
  torch::Tensor loss = objectiveLoss(kind, in, params);
  CHECK(loss.dim() == 0);
  CHECK(loss.item<double>() == doctest::Approx(direct).epsilon(1e-10));
  loss.backward();
  torch::NoGradGuard noGrad;
  for (size_t k = 0; k < in.size(); ++k) {
    if (!in[k].is_floating_point())
      continue;
    if (data.count(k)) {
      CHECK((!in[k].grad().defined() || in[k].grad().abs().max().item<double>() == 0));
      continue;
    }
    torch::Tensor flat = in[k].view(-1), grad = in[k].grad().reshape(-1);
    for (int64_t e = 0; e < flat.size(0); ++e) {
      const double h = 1e-6, x0 = flat[e].item<double>();
      flat[e] = x0 + h;
      double up = objectiveLoss(kind, in, params).item<double>();
      flat[e] = x0 - h;
      double down = objectiveLoss(kind, in, params).item<double>();
      flat[e] = x0;
      double fd = (up - down) / (2 * h), ad = grad[e].item<double>();
      INFO("operand " << k << " element " << e);
      CHECK(ad == doctest::Approx(fd).epsilon(1e-5).scale(1e-3));
    }
  }
}

} // namespace

TEST_CASE("objective names round-trip and arities are fixed") {
  Objective k;
  CHECK(parseObjective("paclr", k));
  CHECK(k == objectiveNamed("paclr"));
  CHECK(objectiveArity(objectiveNamed("paclr")) == 5);
  CHECK_FALSE(parseObjective("clip", k)); // CLIP lowers to the fused contrastive loss
  CHECK_FALSE(parseObjective("nope", k));
}

TEST_CASE("CWCL: text->image InfoNCE and soft image->text targets from per-channel cosine") {
  torch::manual_seed(1);
  for (bool bag : {false, true}) {
    torch::Tensor img = randn({5, 4}), txt = randn({5, 4});
    torch::Tensor feat = bag ? randn({5, 3, 2, 3}) : randn({5, 2, 3});
    torch::Tensor pooled = bag ? feat.mean(1) : feat;
    std::vector<Mat> f;
    for (int64_t i = 0; i < 5; ++i)
      f.push_back(mat(pooled[i]));
    double scale = 3.5;
    check(objectiveNamed("cwcl"), {img, txt, feat, torch::scalar_tensor(scale, torch::kFloat64)}, {},
          cwclDirect(mat(img), mat(txt), f, scale), {2});
  }
}

TEST_CASE("CWCL with identical input features equals CLIP's text->image half plus a uniform image->text target") {
  // All wells look alike: the soft targets are uniform (w = 1/N), so
  // image->text is the mean negative log-softmax over all texts.
  torch::manual_seed(2);
  torch::Tensor img = randn({4, 3}), txt = randn({4, 3});
  torch::Tensor feat = randn({1, 2, 5}).expand({4, 2, 5}).contiguous();
  torch::Tensor l = objectiveLoss(objectiveNamed("cwcl"), {img, txt, feat, torch::scalar_tensor(2.0, torch::kFloat64)}, {});
  Mat s = cosines(mat(img), mat(txt));
  double t2i = 0, uniform = 0;
  for (size_t j = 0; j < 4; ++j) {
    Vec col, row;
    for (size_t i = 0; i < 4; ++i) {
      col.push_back(2 * s[i][j]);
      row.push_back(2 * s[j][i]);
    }
    t2i += logSumExp(col) - 2 * s[j][j];
    for (size_t i = 0; i < 4; ++i)
      uniform += (logSumExp(row) - 2 * s[j][i]) / 4;
  }
  CHECK(l.item<double>() == doctest::Approx(0.5 * (t2i + uniform) / 4).epsilon(1e-12));
}

TEST_CASE("CLOOB: InfoLOOB over Hopfield retrievals") {
  torch::manual_seed(3);
  torch::Tensor a = randn({6, 4}), b = randn({6, 4});
  for (double beta : {1.0, 14.3})
    check(objectiveNamed("cloob"), {a, b}, {{"inverse_temperature", 5.0}, {"hopfield_beta", beta}},
          cloobDirect(mat(a), mat(b), 5.0, beta));
}

TEST_CASE("SigLIP and S2L: pairwise sigmoid losses, hard and soft targets") {
  torch::manual_seed(4);
  torch::Tensor a = randn({5, 3}), b = randn({5, 3});
  torch::Tensor scale = torch::scalar_tensor(4.0, torch::kFloat64), bias = torch::scalar_tensor(-2.0, torch::kFloat64);
  check(objectiveNamed("siglip"), {a, b, scale, bias}, {}, sigmoidDirect(mat(a), mat(b), 4.0, -2.0, identity(5)));
  torch::Tensor fp = (torch::rand({5, 16}, torch::kFloat64) > 0.6).to(torch::kFloat64);
  check(objectiveNamed("s2l"), {a, b, fp, scale, bias}, {}, sigmoidDirect(mat(a), mat(b), 4.0, -2.0, tanimoto(mat(fp))), {2});
}

TEST_CASE("SupCon and PaCLR: positives by label, controls as one class") {
  torch::manual_seed(5);
  torch::Tensor a = randn({6, 4}), b = randn({6, 4});
  torch::Tensor labels = torch::tensor({3, 1, 3, 0, 2, 1}, torch::kInt64);
  std::vector<int64_t> l = ints(labels), twice = l;
  twice.insert(twice.end(), l.begin(), l.end());
  Mat ab = mat(a);
  for (const Vec &r : mat(b))
    ab.push_back(r);
  check(objectiveNamed("supcon"), {a, b, labels}, {{"temperature", 0.5}}, supconDirect(ab, twice, 0.5));

  torch::Tensor t1 = randn({6, 4}), c1 = randn({6, 4}), t2 = randn({6, 4}), c2 = randn({6, 4});
  Mat all;
  std::vector<int64_t> views;
  for (auto [m, control] : {std::pair{t1, false}, {c1, true}, {t2, false}, {c2, true}})
    for (size_t i = 0; i < 6; ++i) {
      all.push_back(mat(m)[i]);
      views.push_back(control ? -1 : l[i]);
    }
  check(objectiveNamed("paclr"), {t1, c1, t2, c2, labels}, {{"temperature", 1.0}}, supconDirect(all, views, 1.0));
}

TEST_CASE("Knowledge-graph soft targets and Laplacian over the batch's classes") {
  torch::manual_seed(6);
  torch::Tensor x = randn({8, 4});
  torch::Tensor labels = torch::tensor({0, 2, 2, 5, 3, 0, 5, 2}, torch::kInt64);
  torch::Tensor w = torch::rand({6, 6}, torch::kFloat64);
  w = (w + w.t()) / 2;
  w.fill_diagonal_(0);
  w[3].zero_(); // class 3: isolated
  w.select(1, 3).zero_();
  check(objectiveNamed("kg_soft_targets"), {x, labels, w}, {{"tau", 0.1}}, kgSoftDirect(mat(x), ints(labels), mat(w), 0.1), {2});
  check(objectiveNamed("kg_laplacian"), {x, labels, w}, {}, kgLaplacianDirect(mat(x), ints(labels), mat(w)), {2});
}

TEST_CASE("The Laplacian penalty vanishes when linked classes share a direction") {
  torch::Tensor x = torch::tensor({{1.0, 0.0}, {2.0, 0.0}, {0.0, 1.0}}, torch::kFloat64);
  torch::Tensor w = torch::tensor({{0.0, 1.0, 0.0}, {1.0, 0.0, 0.0}, {0.0, 0.0, 0.0}}, torch::kFloat64);
  auto penalty = [&](std::vector<int64_t> labels, int64_t rows) {
    return objectiveLoss(objectiveNamed("kg_laplacian"), {x.narrow(0, 0, rows), torch::tensor(labels), w}, {}).item<double>();
  };
  // Classes 0 and 1 point the same way: no penalty.
  CHECK(penalty({0, 1}, 2) == doctest::Approx(0.0));
  // Isolated class 2's row of L is I's: it adds its unit norm, a constant
  // without gradient, averaged over the batch's 3 classes.
  CHECK(penalty({0, 1, 2}, 3) == doctest::Approx(1.0 / 3));
  // Pointing the linked classes apart costs: cos = -1 gives 2 (1 + 1) / 2.
  torch::Tensor apart = torch::tensor({{1.0, 0.0}, {-1.0, 0.0}}, torch::kFloat64);
  CHECK(objectiveLoss(objectiveNamed("kg_laplacian"), {apart, torch::tensor({0, 1}), w}, {}).item<double>() ==
        doctest::Approx(2.0));
}

TEST_CASE("Classification: linear head with label smoothing, and ArcFace") {
  torch::manual_seed(7);
  torch::Tensor x = randn({6, 4}), w = randn({5, 4}), b = randn({5});
  torch::Tensor labels = torch::tensor({0, 4, 2, 2, 1, 3}, torch::kInt64);
  Vec bias;
  for (int64_t k = 0; k < 5; ++k)
    bias.push_back(b[k].item<double>());
  for (double eps : {0.0, 0.1})
    check(objectiveNamed("classify"), {x, labels, w, b}, {{"label_smoothing", eps}},
          classifyDirect(mat(x), ints(labels), mat(w), bias, eps));
  check(objectiveNamed("arcface"), {x, labels, w}, {{"scale", 8.0}, {"margin", 0.5}},
        arcfaceDirect(mat(x), ints(labels), mat(w), 8.0, 0.5));
}

TEST_CASE("SimCLR: NT-Xent over two views") {
  torch::manual_seed(8);
  torch::Tensor a = randn({5, 4}), b = randn({5, 4});
  check(objectiveNamed("simclr"), {a, b}, {{"temperature", 0.3}}, simclrDirect(mat(a), mat(b), 0.3));
}

TEST_CASE("MAE: normalised-pixel error over the hidden patches only") {
  torch::manual_seed(9);
  const int64_t n = 2, c = 2, s = 4, p = 2;
  torch::Tensor images = randn({n, c, s, s}), recon = randn({n, c * s * s});
  torch::Tensor mask = torch::tensor({{1.0, 0.0, 0.0, 1.0}, {0.0, 1.0, 0.0, 0.0}}, torch::kFloat64);
  // Direct: per hidden patch, the mean squared error against the patch's
  // pixels normalised by their mean and (unbiased) variance.
  torch::Tensor r = recon.view({n, c, s, s});
  double total = 0, hidden = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t gy = 0; gy < 2; ++gy)
      for (int64_t gx = 0; gx < 2; ++gx) {
        if (mask[i][gy * 2 + gx].item<double>() == 0)
          continue;
        Vec t, q;
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t y = 0; y < p; ++y)
            for (int64_t x = 0; x < p; ++x) {
              t.push_back(images[i][ch][gy * p + y][gx * p + x].item<double>());
              q.push_back(r[i][ch][gy * p + y][gx * p + x].item<double>());
            }
        double mean = 0, var = 0;
        for (double v : t)
          mean += v / double(t.size());
        for (double v : t)
          var += (v - mean) * (v - mean) / double(t.size() - 1);
        double err = 0;
        for (size_t k = 0; k < t.size(); ++k)
          err += std::pow(q[k] - (t[k] - mean) / std::sqrt(var + 1e-6), 2) / double(t.size());
        total += err;
        hidden += 1;
      }
  check(objectiveNamed("mae"), {images, recon, mask}, {{"patch", double(p)}}, total / hidden, {0, 2});
}

TEST_CASE("MAE's random patch mask hides the asked fraction of each row") {
  torch::manual_seed(10);
  torch::Tensor m = randomPatchMask(3, 16, 0.75, torch::TensorOptions().dtype(torch::kFloat32));
  CHECK(m.sizes() == torch::IntArrayRef({3, 16}));
  for (int64_t i = 0; i < 3; ++i)
    CHECK(m[i].sum().item<double>() == 12);
  CHECK_FALSE(torch::equal(m[0], m[1])); // drawn per row
}
