#include "exec/HandCrafted.h"

#include <torch/torch.h>

#include <cmath>

namespace exprt {
namespace {

// Objects of one nuclear-channel image: 4-connected components of
// `mask` [H, W] (bool), with their areas, elongations and mean intensities.
struct Objects {
  double count = 0, meanArea = 0, stdArea = 0, elongation = 0, intensity = 0;
};

Objects objects(const torch::Tensor &mask, const torch::Tensor &image) {
  const int64_t H = mask.size(0), W = mask.size(1);
  auto m = mask.accessor<bool, 2>();
  auto v = image.accessor<float, 2>();
  std::vector<int32_t> label(static_cast<size_t>(H * W), -1);
  std::vector<int64_t> stack;
  std::vector<double> areas, elong, inten;
  for (int64_t start = 0; start < H * W; ++start) {
    if (!m[start / W][start % W] || label[start] >= 0)
      continue;
    const int32_t id = static_cast<int32_t>(areas.size());
    double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, si = 0;
    label[start] = id;
    stack.assign(1, start);
    while (!stack.empty()) {
      int64_t p = stack.back();
      stack.pop_back();
      int64_t y = p / W, x = p % W;
      n += 1;
      sx += x;
      sy += y;
      sxx += double(x) * x;
      syy += double(y) * y;
      sxy += double(x) * y;
      si += v[y][x];
      const int64_t nb[4][2] = {{y - 1, x}, {y + 1, x}, {y, x - 1}, {y, x + 1}};
      for (const auto &q : nb)
        if (q[0] >= 0 && q[0] < H && q[1] >= 0 && q[1] < W && m[q[0]][q[1]] &&
            label[q[0] * W + q[1]] < 0) {
          label[q[0] * W + q[1]] = id;
          stack.push_back(q[0] * W + q[1]);
        }
    }
    // Second central moments -> the ratio of the principal axes.
    double cxx = sxx / n - (sx / n) * (sx / n), cyy = syy / n - (sy / n) * (sy / n),
           cxy = sxy / n - (sx / n) * (sy / n);
    double tr = cxx + cyy, det = cxx * cyy - cxy * cxy;
    double disc = std::sqrt(std::max(0.0, tr * tr / 4 - det));
    double l1 = tr / 2 + disc, l2 = std::max(1e-6, tr / 2 - disc);
    areas.push_back(n);
    elong.push_back(std::sqrt(l1 / l2));
    inten.push_back(si / n);
  }
  Objects o;
  o.count = static_cast<double>(areas.size());
  if (areas.empty())
    return o;
  for (size_t i = 0; i < areas.size(); ++i) {
    o.meanArea += areas[i] / o.count;
    o.elongation += elong[i] / o.count;
    o.intensity += inten[i] / o.count;
  }
  for (double a : areas)
    o.stdArea += (a - o.meanArea) * (a - o.meanArea) / o.count;
  o.stdArea = std::sqrt(o.stdArea);
  return o;
}

} // namespace

torch::Tensor handCraftedFeatures(const torch::Tensor &images, std::vector<std::string> *names) {
  torch::NoGradGuard noGrad;
  torch::Tensor x = images.to(torch::kFloat32).contiguous();
  const int64_t N = x.size(0), C = x.size(1);
  torch::Tensor flat = x.flatten(2); // [N, C, HW]
  std::vector<torch::Tensor> cols;
  std::vector<std::string> featureNames;
  auto add = [&](const torch::Tensor &t, const std::string &name) {
    cols.push_back(t.reshape({N, -1}));
    for (int64_t c = 0; c < cols.back().size(1); ++c)
      featureNames.push_back(cols.back().size(1) == 1 ? name : name + "_ch" + std::to_string(c + 1));
  };
  torch::Tensor mean = flat.mean(2), sd = flat.std(2, /*unbiased=*/false);
  add(mean, "Intensity_Mean");
  add(sd, "Intensity_Std");
  torch::Tensor q = torch::quantile(flat, torch::tensor({0.1, 0.5, 0.9}), 2); // [3, N, C]
  add(q[0], "Intensity_P10");
  add(q[1], "Intensity_P50");
  add(q[2], "Intensity_P90");
  torch::Tensor dx = x.narrow(3, 1, x.size(3) - 1) - x.narrow(3, 0, x.size(3) - 1);
  torch::Tensor dy = x.narrow(2, 1, x.size(2) - 1) - x.narrow(2, 0, x.size(2) - 1);
  add(dx.abs().mean({2, 3}) + dy.abs().mean({2, 3}), "Texture_Gradient");
  torch::Tensor inner = x.narrow(2, 1, x.size(2) - 2).narrow(3, 1, x.size(3) - 2);
  torch::Tensor lap = x.narrow(2, 0, x.size(2) - 2).narrow(3, 1, x.size(3) - 2) +
                      x.narrow(2, 2, x.size(2) - 2).narrow(3, 1, x.size(3) - 2) +
                      x.narrow(2, 1, x.size(2) - 2).narrow(3, 0, x.size(3) - 2) +
                      x.narrow(2, 1, x.size(2) - 2).narrow(3, 2, x.size(3) - 2) - 4 * inner;
  add(lap.abs().mean({2, 3}), "Texture_Laplacian");
  // Foreground: above the midpoint of the median and the 90th percentile.
  torch::Tensor threshold = (q[1] + q[2]) / 2;              // [N, C]
  torch::Tensor fg = x > threshold.unsqueeze(2).unsqueeze(3); // [N, C, H, W]
  add(fg.to(torch::kFloat32).mean({2, 3}), "Foreground_Fraction");
  for (int64_t c = 0; c + 1 < C; ++c) {
    torch::Tensor a = flat.select(1, c) - mean.select(1, c).unsqueeze(1);
    torch::Tensor b = flat.select(1, c + 1) - mean.select(1, c + 1).unsqueeze(1);
    torch::Tensor corr = (a * b).mean(1) / (sd.select(1, c) * sd.select(1, c + 1) + 1e-8);
    add(corr, "Correlation_ch" + std::to_string(c + 1) + "_ch" + std::to_string(c + 2));
  }
  torch::Tensor obj = torch::empty({N, 5}, torch::kFloat32);
  auto oa = obj.accessor<float, 2>();
  for (int64_t i = 0; i < N; ++i) {
    Objects o = objects(fg[i][0].contiguous(), x[i][0].contiguous());
    float row[5] = {float(o.count), float(o.meanArea), float(o.stdArea), float(o.elongation),
                    float(o.intensity)};
    for (int k = 0; k < 5; ++k)
      oa[i][k] = row[k];
  }
  for (auto [k, name] : {std::pair<int, const char *>{0, "Nuclei_Count"}, {1, "Nuclei_Area_Mean"},
                         {2, "Nuclei_Area_Std"}, {3, "Nuclei_Elongation"}, {4, "Nuclei_Intensity"}})
    add(obj.select(1, k), name);
  if (names)
    *names = featureNames;
  return torch::cat(cols, 1);
}

} // namespace exprt
