#include "data/Augment.h"

#include "data/Random.h"

#include <torch/torch.h>

#include <cmath>
#include <random>

namespace exprt {
namespace {

// Uniform draws from the 64-bit engine, the same on every standard library
// (std::uniform_real_distribution's are implementation-defined).
struct Draw {
  std::mt19937_64 rng;
  double u01() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * u01(); }
  int64_t below(int64_t n) { return static_cast<int64_t>(u01() * static_cast<double>(n)); }
};

// One image [C, H, W].
torch::Tensor augmentOne(torch::Tensor x, const AugmentSpec &spec, Draw &d) {
  const int64_t H = x.size(-2), W = x.size(-1);
  if (spec.crop < 1) {
    // torchvision's RandomResizedCrop: area fraction in [crop, 1], aspect
    // ratio log-uniform in [3/4, 4/3], ten tries, else the whole image.
    for (int attempt = 0; attempt < 10; ++attempt) {
      double area = H * W * d.uniform(spec.crop, 1.0);
      double ratio = std::exp(d.uniform(std::log(3.0 / 4.0), std::log(4.0 / 3.0)));
      int64_t w = std::llround(std::sqrt(area * ratio)), h = std::llround(std::sqrt(area / ratio));
      if (w < 1 || h < 1 || w > W || h > H)
        continue;
      int64_t top = d.below(H - h + 1), left = d.below(W - w + 1);
      if (h != H || w != W)
        x = torch::nn::functional::interpolate(
                x.slice(-2, top, top + h).slice(-1, left, left + w).unsqueeze(0),
                torch::nn::functional::InterpolateFuncOptions()
                    .size(std::vector<int64_t>{H, W})
                    .mode(torch::kBilinear)
                    .align_corners(false))
                .squeeze(0);
      break;
    }
  }
  if (spec.flip) {
    if (d.u01() < 0.5)
      x = x.flip({-1});
    if (d.u01() < 0.5)
      x = x.flip({-2});
  }
  if (spec.rot90) {
    // Quarter turns would change a non-square image's shape: half turns only.
    int64_t k = H == W ? d.below(4) : 2 * d.below(2);
    if (k != 0)
      x = torch::rot90(x, k, {-2, -1});
  }
  if (spec.intensity > 0) {
    const int64_t C = x.size(0);
    std::vector<float> scale(C), shift(C);
    for (int64_t c = 0; c < C; ++c) {
      scale[c] = static_cast<float>(1.0 + d.uniform(-spec.intensity, spec.intensity));
      shift[c] = static_cast<float>(d.uniform(-spec.intensity, spec.intensity));
    }
    // Drawn on the host either way; applied where the images are (the GPU's
    // batches are augmented there, after their copy).
    auto perChannel = [&](const std::vector<float> &v) { return torch::tensor(v).view({C, 1, 1}).to(x.device()); };
    x = x * perChannel(scale) + perChannel(shift);
  }
  return x.contiguous();
}

} // namespace

torch::Tensor augmentImages(const torch::Tensor &images, const AugmentSpec &spec, uint64_t seed) {
  torch::NoGradGuard noGrad;
  const auto shape = images.sizes().vec();
  torch::Tensor flat = images.reshape({-1, shape[shape.size() - 3], shape[shape.size() - 2],
                                       shape[shape.size() - 1]});
  Draw d{std::mt19937_64(seed)};
  std::vector<torch::Tensor> out;
  out.reserve(flat.size(0));
  for (int64_t i = 0; i < flat.size(0); ++i)
    out.push_back(augmentOne(flat[i], spec, d));
  return torch::stack(out).view(shape);
}

void augmentBatch(std::map<std::string, torch::Tensor> &inputs, const Graph &graph,
                  const AugmentSpec &spec, int64_t trainSeed, int64_t batch) {
  if (!spec.any())
    return;
  for (const GraphInput &in : graph.inputs) {
    auto it = inputs.find(in.binding);
    // Image columns: [B, C, H, W] (or [B, sites, C, H, W] for bags). Precomputed
    // features never come from augmented images (the compiler keeps them in
    // the step).
    if (!in.features.empty() || in.shape.size() < 4 || in.dtype != "f32" || it == inputs.end() ||
        !it->second.is_floating_point())
      continue;
    // Views of one column draw independently (their binding names the view).
    it->second = augmentImages(it->second, spec, batchSeed(trainSeed, batch, in.view > 0 ? in.binding : in.column));
  }
}

} // namespace exprt
