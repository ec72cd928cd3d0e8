#include "data/Screen.h"

#include "data/Random.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace exprt {

bool Screen::hasColumn(const std::string &name) const {
  bool pair = name == "treated1" || name == "control1" || name == "treated2" || name == "control2";
  return name == "image" || name == "perturbation" || name == "plate" || name == "well" ||
         (pair && paired) || labels.count(name) || features.count(name) || constants.count(name);
}

// `bag` sites of each row's well: a subset when the well has more, with
// repetition when it has fewer; a function of (draw, row) only.
std::vector<int64_t> Screen::bagRows(const torch::Tensor &sites, uint64_t draw) const {
  const int64_t *wellOf = well.data_ptr<int64_t>();
  std::vector<int64_t> picked;
  for (int64_t i = 0; i < sites.numel(); ++i) {
    int64_t r = sites.data_ptr<int64_t>()[i];
    std::vector<int64_t> pool = wellSites.at(wellOf[r]);
    uint64_t key = splitmix64(rowSeed(draw, r), "bag");
    for (int64_t k = 0; k < bag; ++k) {
      key = splitmix64(key);
      if (static_cast<int64_t>(pool.size()) >= bag) { // a partial Fisher-Yates shuffle
        std::swap(pool[k], pool[k + key % (pool.size() - k)]);
        picked.push_back(pool[k]);
      } else {
        picked.push_back(pool[key % pool.size()]);
      }
    }
  }
  return picked;
}

// The rows paired column `name` reads for `sites`: the sibling (treated2),
// and a control for the site or the sibling; a function of (draw, site) only.
std::vector<int64_t> Screen::pairedRows(const std::string &name, const torch::Tensor &sites,
                                        uint64_t draw) const {
  std::vector<int64_t> rows(sites.data_ptr<int64_t>(), sites.data_ptr<int64_t>() + sites.numel());
  for (int64_t &r : rows) {
    uint64_t key = rowSeed(draw, r);
    if (name != "control1") {
      int64_t sibling = siblings.draw(r, splitmix64(key, "treated2"));
      r = sibling < 0 ? r : sibling;
    }
    if (name != "treated2") {
      int64_t control = controls.draw(r, splitmix64(key, name));
      if (control < 0)
        throw std::runtime_error("no control site to pair with site " + std::to_string(r));
      r = control;
    }
  }
  return rows;
}

torch::Tensor BufferPool::take(const std::vector<int64_t> &shape) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (torch::Tensor &t : buffers_)
    // Held by nobody else: neither this tensor nor a view of its storage.
    if (t.use_count() == 1 && t.storage().use_count() == 1 && t.sizes().vec() == shape)
      return t;
  torch::Tensor t = torch::empty(shape, torch::kFloat32);
  if (buffers_.size() >= 16)
    buffers_.erase(buffers_.begin());
  buffers_.push_back(t);
  return t;
}

torch::Tensor Screen::imageRows(const torch::Tensor &rows) const {
  if (!mean.defined())
    return images.index_select(0, rows);
  // Packed: gather, widen and normalise in one pass over each plane, as
  // out = in * a[c] + b[c] (the loader's hot loop; benchmarks/data_loading).
  const int64_t n = rows.numel(), C = images.size(1), plane = images.size(2) * images.size(3);
  torch::Tensor out = batchBuffers_->take({n, C, images.size(2), images.size(3)});
  const bool bytes = images.scalar_type() == torch::kUInt8;
  const float unit = bytes ? 1.0f / 255.0f : 1.0f;
  std::vector<float> a(C), b(C);
  for (int64_t c = 0; c < C; ++c) {
    float m = mean[c].item<float>(), s = std[c].item<float>();
    a[c] = unit / s;
    b[c] = -m / s;
  }
  const int64_t *idx = rows.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= images.size(0))
      throw std::out_of_range("image row " + std::to_string(idx[i]) + " of " +
                              std::to_string(images.size(0)));
  float *dst = out.data_ptr<float>();
  at::parallel_for(0, n * C, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = idx[i / C], c = i % C;
      float *o = dst + i * plane;
      const float ac = a[c], bc = b[c];
      if (bytes) {
        const uint8_t *in = images.data_ptr<uint8_t>() + (r * C + c) * plane;
        for (int64_t k = 0; k < plane; ++k)
          o[k] = static_cast<float>(in[k]) * ac + bc;
      } else {
        const at::Half *in = images.data_ptr<at::Half>() + (r * C + c) * plane;
        for (int64_t k = 0; k < plane; ++k)
          o[k] = static_cast<float>(in[k]) * ac + bc;
      }
    }
  });
  return out;
}

torch::Tensor Screen::column(const std::string &name, const torch::Tensor &sites,
                             uint64_t draw) const {
  if (name == "image" && bag > 1)
    return imageRows(torch::tensor(bagRows(sites, draw), torch::kInt64))
        .view({sites.numel(), bag, images.size(1), images.size(2), images.size(3)});
  if (name == "image" || name == "treated1")
    return imageRows(sites);
  if (name == "control1" || name == "treated2" || name == "control2")
    return imageRows(torch::tensor(pairedRows(name, sites, draw), torch::kInt64));
  if (auto it = labels.find(name); it != labels.end())
    return it->second.index_select(0, sites);
  if (auto it = features.find(name); it != features.end())
    return it->second.index_select(0, sites);
  if (auto it = constants.find(name); it != constants.end())
    return it->second; // one table for every batch
  if (name == "perturbation")
    return perturbation.index_select(0, sites);
  if (name == "plate")
    return plate.index_select(0, sites);
  return well.index_select(0, sites);
}

// pairing = "micon": splits keep their treated sites; a control is drawn
// from the same plate, else the same batch, source (where the data has
// them), else the same split; the second treated site likewise among sites
// of the same perturbation. A draw never crosses the split.
void pairSites(Screen &screen) {
  const int64_t n = screen.perturbation.size(0), K = screen.perturbations;
  std::vector<int64_t> split(n, 0);
  for (int64_t s : screen.evalSites)
    split[s] = 1;
  const int64_t *pert = screen.perturbation.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> levels, pertLevels;
  for (const torch::Tensor *t : {&screen.plate, &screen.batch, &screen.source}) {
    if (!t->defined())
      continue;
    const int64_t *v = t->data_ptr<int64_t>();
    std::vector<int64_t> key(n), pertKey(n);
    for (int64_t s = 0; s < n; ++s) {
      key[s] = v[s] * 2 + split[s];
      pertKey[s] = key[s] * K + pert[s];
    }
    levels.push_back(std::move(key));
    pertLevels.push_back(std::move(pertKey));
  }
  std::vector<int64_t> splitPert(n);
  for (int64_t s = 0; s < n; ++s)
    splitPert[s] = split[s] * K + pert[s];
  levels.push_back(split);
  pertLevels.push_back(splitPert);
  std::vector<int64_t> controls, treated;
  for (int64_t s = 0; s < n; ++s)
    (pert[s] == 0 ? controls : treated).push_back(s);
  screen.controls = GroupSampler(levels, controls);
  screen.siblings = GroupSampler(pertLevels, treated);
  auto keepTreated = [&](std::vector<int64_t> &sites) {
    sites.erase(std::remove_if(sites.begin(), sites.end(), [&](int64_t s) { return pert[s] == 0; }),
                sites.end());
  };
  keepTreated(screen.trainSites);
  keepTreated(screen.evalSites);
  screen.paired = true;
}


void bagSites(Screen &screen, int64_t bag) {
  if (bag <= 1)
    return;
  const int64_t *well = screen.well.data_ptr<int64_t>();
  for (int64_t s = 0; s < screen.well.size(0); ++s)
    screen.wellSites[well[s]].push_back(s);
  auto firstSites = [&](std::vector<int64_t> &sites) {
    std::vector<int64_t> kept;
    for (int64_t s : sites)
      if (screen.wellSites.at(well[s]).front() == s)
        kept.push_back(s);
    sites = std::move(kept);
  };
  firstSites(screen.trainSites);
  firstSites(screen.evalSites);
  screen.bag = bag;
}

void splitValidation(Screen &screen, double fraction, uint64_t seed) {
  if (fraction <= 0)
    return;
  const int64_t *well = screen.well.data_ptr<int64_t>();
  std::vector<int64_t> wells;
  for (int64_t s : screen.trainSites)
    if (wells.empty() || wells.back() != well[s])
      wells.push_back(well[s]);
  std::sort(wells.begin(), wells.end());
  wells.erase(std::unique(wells.begin(), wells.end()), wells.end());
  if (wells.size() < 2)
    return;
  auto n = static_cast<size_t>(std::llround(fraction * static_cast<double>(wells.size())));
  n = std::clamp<size_t>(n, 1, wells.size() - 1);
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 101);
  for (size_t i = 0; i < n; ++i) // a partial Fisher-Yates shuffle picks n wells
    std::swap(wells[i], wells[i + rng() % (wells.size() - i)]);
  std::vector<bool> isVal(static_cast<size_t>(screen.wells), false);
  for (size_t i = 0; i < n; ++i)
    isVal[wells[i]] = true;
  std::vector<int64_t> train;
  for (int64_t s : screen.trainSites)
    (isVal[well[s]] ? screen.valSites : train).push_back(s);
  screen.trainSites = std::move(train);
}

} // namespace exprt
