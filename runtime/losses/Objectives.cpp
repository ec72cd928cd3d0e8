#include "losses/Objectives.h"

#include <torch/torch.h>

#include <cmath>

namespace exprt {
namespace {

namespace F = torch::nn::functional;
using T = torch::Tensor;
using In = std::vector<T>;
using Params = std::map<std::string, double>;

double get(const Params &p, const char *name, double fallback) {
  auto it = p.find(name);
  return it == p.end() ? fallback : it->second;
}

T normalize(const T &x) { return F::normalize(x, F::NormalizeFuncOptions().p(2).dim(-1).eps(1e-12)); }

// scale * cos(a_i, b_j): the logits of CLIP-style objectives.
T scaledCosine(const T &a, const T &b, const T &scale) { return torch::matmul(normalize(a), normalize(b).t()) * scale; }

// Mean over rows i of -sum_j targets_ij log softmax_j(logits_i).
T softCrossEntropy(const T &logits, const T &targets) {
  return -(targets * torch::log_softmax(logits, 1)).sum(1).mean();
}

T arangeLike(const T &x) {
  return torch::arange(x.size(0), torch::TensorOptions().dtype(torch::kInt64).device(x.device()));
}

// CellCLIP's CWCL: text->image InfoNCE, and image->text cross-entropy against
// w_ij = rownorm(mean_c cos(f_i^c, f_j^c) / 2 + 0.5) from the input features
// (pooled over a bag's sites first), so look-alike wells are not pushed apart.
T cwcl(const In &x, const Params &) {
  T logits = scaledCosine(x[0], x[1], x[3]);
  T f = x[2].dim() == 4 ? x[2].mean(1) : x[2]; // [N, C, F]
  T fn = normalize(f.detach()).transpose(0, 1); // [C, N, F]
  T w = torch::matmul(fn, fn.transpose(1, 2)).mean(0) / 2 + 0.5;
  w = w / w.sum(1, /*keepdim=*/true);
  T textToImage = F::cross_entropy(logits.t(), arangeLike(logits));
  return 0.5 * (textToImage + softCrossEntropy(logits, w));
}

// Modern Hopfield retrieval: each query row replaced by the softmax(beta q.m)-
// weighted mean of the memory rows, renormalised.
T hopfield(const T &queries, const T &memory, double beta) {
  return normalize(torch::matmul(torch::softmax(beta * torch::matmul(queries, memory.t()), 1), memory));
}

// InfoLOOB of anchors x against y: the positive left out of the log-sum-exp.
T infoLoob(const T &x, const T &y, double inverseTemperature) {
  T logits = torch::matmul(x, y.t()) * inverseTemperature;
  T eye = torch::eye(x.size(0), logits.options().dtype(torch::kBool));
  T negatives = logits.masked_fill(eye, -std::numeric_limits<double>::infinity()).logsumexp(1);
  return (negatives - logits.diagonal()).mean();
}

// CLOOB (Fürst et al. 2022), as its reference code (ml-jku/cloob): each
// modality's memory is queried by both modalities, and InfoLOOB aligns the two
// retrievals from one memory — images retrieved by images with images
// retrieved by texts, and likewise from the text memory — times tau.
T cloob(const In &x, const Params &p) {
  const double invTau = get(p, "inverse_temperature", 14.3), beta = get(p, "hopfield_beta", 14.3);
  T a = normalize(x[0]), b = normalize(x[1]);
  T aByA = hopfield(a, a, beta), aByB = hopfield(b, a, beta); // from the image memory
  T bByB = hopfield(b, b, beta), bByA = hopfield(a, b, beta); // from the text memory
  return (infoLoob(aByA, aByB, invTau) + infoLoob(bByB, bByA, invTau)) / invTau;
}

// -1/N sum_ij [s_ij log sig(l_ij) + (1 - s_ij) log sig(-l_ij)]: SigLIP with
// s = I; S2L with soft targets s.
T sigmoidPairs(const T &logits, const T &s) {
  return -(s * F::logsigmoid(logits) + (1 - s) * F::logsigmoid(-logits)).sum() / logits.size(0);
}

T siglip(const In &x, const Params &) {
  T logits = scaledCosine(x[0], x[1], x[2]) + x[3];
  return sigmoidPairs(logits, torch::eye(logits.size(0), logits.options()));
}

// MolPhenix's S2L: soft targets from the continuous Tanimoto similarity of
// `targets` (fingerprints): x.y / (|x|^2 + |y|^2 - x.y), 1 on the diagonal.
T s2l(const In &x, const Params &) {
  T logits = scaledCosine(x[0], x[1], x[3]) + x[4];
  T t = x[2].detach();
  T dot = torch::matmul(t, t.t());
  T sq = (t * t).sum(1);
  T denom = (sq.unsqueeze(1) + sq.unsqueeze(0) - dot).clamp_min(1e-12);
  T s = (dot / denom).fill_diagonal_(1.0);
  return sigmoidPairs(logits, s);
}

// SupCon (Khosla et al. 2020) over rows `z` with `labels`: each anchor's
// mean log-probability of its positives among all other rows.
T supconRows(const T &z, const T &labels, double temperature) {
  T zn = normalize(z);
  T logits = torch::matmul(zn, zn.t()) / temperature;
  T self = torch::eye(z.size(0), logits.options().dtype(torch::kBool));
  T logp = logits - logits.masked_fill(self, -std::numeric_limits<double>::infinity()).logsumexp(1, true);
  T positive = labels.unsqueeze(0).eq(labels.unsqueeze(1)).logical_and(self.logical_not());
  T count = positive.sum(1);
  T has = count > 0;
  T perAnchor = (logp.masked_fill(positive.logical_not(), 0)).sum(1) / count.clamp_min(1);
  return -(perAnchor.masked_select(has)).mean();
}

T supcon(const In &x, const Params &p) {
  return supconRows(torch::cat({x[0], x[1]}), torch::cat({x[2], x[2]}), get(p, "temperature", 0.1));
}

// MICON's PaCLR: SupCon over [t1; c1] and [t2; c2]; controls share one label
// (-1, never a class code).
T paclr(const In &x, const Params &p) {
  T control = torch::full_like(x[4], -1);
  T labels = torch::cat({x[4], control, x[4], control});
  return supconRows(torch::cat({x[0], x[1], x[2], x[3]}), labels, get(p, "temperature", 1.0));
}

// The KG objectives' view of a batch (operands x, labels, graph): per-class
// means of x over the classes present, L2-normalised, and the graph's
// weights among those classes (data: no gradient).
std::pair<T, T> classMeansAndGraph(const In &x) {
  auto [present, inverse] = torch::_unique(x[1], /*sorted=*/true, /*return_inverse=*/true);
  T sums = torch::zeros({present.size(0), x[0].size(1)}, x[0].options()).index_add(0, inverse, x[0]);
  T counts =
      torch::zeros({present.size(0)}, x[0].options()).index_add(0, inverse, torch::ones_like(x[1], x[0].options()));
  T w = x[2].detach().index_select(0, present).index_select(1, present);
  return {normalize(sums / counts.unsqueeze(1)), w};
}

// Knowledge-graph soft targets: p = softmax_j(cos(F_i, F_j) / tau), j != i,
// over the batch's classes; loss = -(1/K_b) sum_ij W_ij log p_ij.
T kgSoftTargets(const In &x, const Params &p) {
  auto [f, w] = classMeansAndGraph(x);
  const int64_t k = f.size(0);
  if (k < 2)
    return x[0].sum() * 0; // nothing to relate in this batch
  T logits = torch::matmul(f, f.t()) / get(p, "tau", 0.1);
  T self = torch::eye(k, logits.options().dtype(torch::kBool));
  T logp = torch::log_softmax(logits.masked_fill(self, -std::numeric_limits<double>::infinity()), 1);
  return -(w * logp.masked_fill(self, 0)).sum() / k;
}

// Knowledge-graph Laplacian penalty (1/K_b) tr(F^T L F) over the batch's
// classes, L = I - D^-1/2 W D^-1/2 of the batch's subgraph (an isolated
// class's row is the identity's).
T kgLaplacian(const In &x, const Params &) {
  auto [f, w] = classMeansAndGraph(x);
  const int64_t k = f.size(0);
  T d = w.sum(1);
  T inv = torch::where(d > 0, d.rsqrt(), torch::zeros_like(d));
  T lap = torch::eye(k, f.options()) - inv.unsqueeze(1) * w * inv.unsqueeze(0);
  return (f * torch::matmul(lap, f)).sum() / k;
}

T crossEntropy(const T &logits, const T &labels, double smoothing) {
  return F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(smoothing));
}

T classify(const In &x, const Params &p) {
  return crossEntropy(torch::linear(x[0], x[2], x[3]), x[1], get(p, "label_smoothing", 0));
}

// ArcFace (Deng et al. 2019): cos(theta + m) for the true class, s * cos
// logits; past theta = pi - m the margin becomes CosFace's m sin(m) (as in
// insightface) so the logit stays monotonic in theta.
T arcface(const In &x, const Params &p) {
  const double s = get(p, "scale", 64), m = get(p, "margin", 0.5);
  T cos = torch::matmul(normalize(x[0]), normalize(x[2]).t()).clamp(-1 + 1e-7, 1 - 1e-7);
  T sin = (1 - cos * cos).sqrt();
  T phi = cos * std::cos(m) - sin * std::sin(m);
  phi = torch::where(cos > std::cos(M_PI - m), phi, cos - std::sin(M_PI - m) * m);
  T target = F::one_hot(x[1], cos.size(1)).to(cos.dtype()).to(torch::kBool);
  return crossEntropy(torch::where(target, phi, cos) * s, x[1], get(p, "label_smoothing", 0));
}

// SimCLR's NT-Xent over the 2N views: each view's positive is the other view
// of its row, every other view a negative — SupCon with each row its own class.
T simclr(const In &x, const Params &p) {
  T row = arangeLike(x[0]);
  return supconRows(torch::cat({x[0], x[1]}), torch::cat({row, row}), get(p, "temperature", 0.1));
}

// MAE's loss: mean squared error over the hidden patches, each patch's
// target normalised by its own mean and variance (norm_pix_loss).
T mae(const In &x, const Params &p) {
  const int64_t patch = static_cast<int64_t>(get(p, "patch", 16));
  const T &images = x[0];
  const int64_t n = images.size(0), c = images.size(1), gh = images.size(2) / patch, gw = images.size(3) / patch;
  auto patches = [&](const T &im) { // [N, P, C*p*p]
    return im.reshape({n, c, gh, patch, gw, patch}).permute({0, 2, 4, 1, 3, 5}).reshape({n, gh * gw, -1});
  };
  T target = patches(images.narrow(2, 0, gh * patch).narrow(3, 0, gw * patch).detach());
  T mean = target.mean(-1, true), var = target.var(-1, /*unbiased=*/true, /*keepdim=*/true);
  target = (target - mean) / (var + 1e-6).sqrt();
  T pred = patches(x[1].reshape_as(images).narrow(2, 0, gh * patch).narrow(3, 0, gw * patch));
  T perPatch = (pred - target).pow(2).mean(-1);
  T mask = x[2].detach();
  return (perPatch * mask).sum() / mask.sum().clamp_min(1);
}

// The objectives, one entry each; `operands` documents what step.loss
// passes, in order (learnable scalars and heads are parameters the compiler
// creates), and `gathered` which of them a data-parallel run gathers.
struct Entry {
  const char *name;
  const char *operands;
  size_t arity;
  std::vector<int> gathered;
  T (*fn)(const In &, const Params &);
};

const Entry kObjectives[] = {
    {"cwcl", "image [N,d], text [N,d], features [N,(M,)C,F], scale []", 4, {0, 1, 2}, cwcl},
    {"cloob", "a [N,d], b [N,d]; inverse_temperature, hopfield_beta", 2, {0, 1}, cloob},
    {"siglip", "a, b, scale [], bias []", 4, {0, 1}, siglip},
    {"s2l", "a, b, targets [N,t], scale [], bias []", 5, {0, 1, 2}, s2l},
    {"supcon", "a, b, labels [N]; temperature", 3, {0, 1, 2}, supcon},
    {"paclr", "treated1, control1, treated2, control2, labels [N]; temperature", 5, {0, 1, 2, 3, 4}, paclr},
    {"kg_soft_targets", "x [N,d], labels [N], graph [K,K]; tau", 3, {0, 1}, kgSoftTargets},
    {"kg_laplacian", "x, labels, graph [K,K]", 3, {0, 1}, kgLaplacian},
    {"classify", "x [N,d], labels, weight [K,d], bias [K]; label_smoothing", 4, {}, classify},
    {"arcface", "x, labels, weight [K,d]; scale, margin, label_smoothing", 3, {}, arcface},
    {"simclr", "view1 [N,d], view2 [N,d]; temperature", 2, {0, 1}, simclr},
    {"mae", "images [N,C,H,W], reconstruction [N,C*H*W], mask [N,P]; patch", 3, {}, mae},
};

const Entry &entry(Objective kind) { return kObjectives[static_cast<size_t>(kind.index)]; }

} // namespace

bool parseObjective(const std::string &name, Objective &out) {
  for (size_t i = 0; i < std::size(kObjectives); ++i)
    if (name == kObjectives[i].name) {
      out = Objective{static_cast<int>(i)};
      return true;
    }
  return false;
}

Objective objectiveNamed(const std::string &name) {
  Objective kind;
  parseObjective(name, kind);
  return kind;
}

size_t objectiveArity(Objective kind) { return entry(kind).arity; }

std::vector<int> objectiveBatchOperands(Objective kind) { return entry(kind).gathered; }

torch::Tensor objectiveLoss(Objective kind, const std::vector<torch::Tensor> &in,
                            const std::map<std::string, double> &params) {
  TORCH_CHECK(in.size() == entry(kind).arity, "objective `", entry(kind).name, "` takes ", entry(kind).arity,
              " operands, got ", in.size());
  return entry(kind).fn(in, params);
}

torch::Tensor randomPatchMask(int64_t rows, int64_t patches, double fraction, const torch::TensorOptions &options) {
  const int64_t hidden = std::clamp<int64_t>(std::llround(fraction * double(patches)), 1, patches);
  T order = torch::rand({rows, patches}, options.dtype(torch::kFloat32)).argsort(/*dim=*/int64_t(1), /*descending=*/false);
  T mask = torch::zeros({rows, patches}, options.dtype(torch::kFloat32));
  mask.scatter_(1, order.narrow(1, 0, hidden), 1.0);
  return mask.to(options.dtype());
}

} // namespace exprt
