#include "data/simulator/SimulatedScreen.h"

#include "data/Random.h"
#include "data/simulator/SimulatedBiology.h"
#include "data/simulator/SimulatedRender.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace exprt {

const char *const kFeatureNames[kFeatures] = {
    "nucleus_size",     "nucleus_intensity",  "cell_size",  "cytoplasm_intensity",
    "texture_frequency", "texture_amplitude", "cell_count", "elongation"};

namespace {

} // namespace

Status readParams(const nlohmann::json &j, Params &p) {
  try {
    p.seed = j.value("seed", int64_t(0));
    p.plates = j.value("plates", int64_t(6));
    p.holdout = j.value("holdout_plates", int64_t(2));
    p.perturbations = j.value("perturbations", int64_t(16));
    p.modules = j.value("modules", int64_t(4));
    p.replicates = j.value("replicates", int64_t(2));
    p.controls = j.value("controls", int64_t(4));
    p.sites = j.value("sites", int64_t(2));
    p.channels = j.value("channels", int64_t(3));
    p.size = j.value("image_size", int64_t(32));
    p.effect = j.value("effect", 1.0);
    p.batchEffect = j.value("batch_effect", 0.3);
    p.noise = j.value("noise", 0.05);
    p.cellLines = j.value("cell_lines", int64_t(1));
    p.compounds = j.value("compounds", int64_t(0));
    std::string pairing = j.value("pairing", std::string("none"));
    if (pairing != "none" && pairing != "micon")
      return Status::error(ErrorKind::PlanInvalid, "simulated_screen: unknown pairing `" + pairing + "`");
    p.micon = pairing == "micon";
  } catch (const nlohmann::json::exception &e) {
    return Status::error(ErrorKind::PlanInvalid, std::string("simulated_screen: bad parameter: ") + e.what());
  }
  if (p.plates < 2 || p.holdout < 1 || p.holdout >= p.plates || p.perturbations < 1 ||
      p.replicates < 1 || p.controls < 1 || p.sites < 1 || p.channels < 1 || p.size < 8 ||
      p.modules < 1 || p.cellLines < 1 || p.compounds < 0 || p.compounds > p.perturbations)
    return Status::error(ErrorKind::PlanInvalid, "simulated_screen: parameters out of range (plates >= 2, "
                         "1 <= holdout_plates < plates, counts, modules and cell_lines >= 1, "
                         "0 <= compounds <= perturbations, image_size >= 8)");
  if (p.cellLines > p.plates)
    return Status::error(ErrorKind::PlanInvalid, "simulated_screen: " + std::to_string(p.cellLines) + " cell lines need at least as "
                         "many plates (each plate holds one line); there are " + std::to_string(p.plates));
  return Status::ok();
}

namespace {

struct PlateNuisance {
  std::vector<double> gain, offset; // per channel
  double gradX, gradY;              // illumination gradient
};

// What each channel stains. Up to three channels keep the original
// nucleus / cytoplasm / textured-cytoplasm stains; four or more follow the
// assays: Cell Painting's DNA, RNA, ER, AGP, Mito (JUMP's load_data order) for five,
// RxRx's Hoechst, ConA (ER), phalloidin (actin), SYTO14 (RNA), MitoTracker,
// WGA (Golgi and membrane) for six.
enum Stain { Nucleus, Cytoplasm, TexturedCytoplasm, ER, RNA, AGP, Actin, Mito, Golgi };

std::vector<Stain> stains(int64_t channels) {
  if (channels <= 3)
    return std::vector<Stain>{Nucleus, Cytoplasm, TexturedCytoplasm}; // the first `channels`
  if (channels == 4)
    return {Nucleus, RNA, ER, AGP};
  if (channels == 5)
    return {Nucleus, RNA, ER, AGP, Mito};
  return {Nucleus, ER, Actin, RNA, Mito, Golgi};
}

// Renders one site: a few cells whose shapes, intensities and organelle
// textures follow the effect vector `e`.
void renderSite(float *img, const Params &p, const double *e, const PlateNuisance &plate,
                double wellGain, std::mt19937_64 &rng) {
  const int64_t S = p.size, C = p.channels;
  const std::vector<Stain> stain = stains(C);
  const bool organelles = C > 3;
  std::normal_distribution<double> n01(0.0, 1.0);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  double scale = S / 32.0; // sizes are defined for 32x32 images
  int cells = static_cast<int>(std::lround(5.0 * std::exp(0.45 * e[CellCount]) + 0.5 * n01(rng)));
  cells = std::clamp(cells, 1, 14);
  std::vector<double> buf(C * S * S, 0.0);
  for (int c = 0; c < cells; ++c) {
    double cx = u01(rng) * S, cy = u01(rng) * S;
    double rn = 2.2 * scale * std::exp(0.3 * e[NucleusSize] + 0.08 * n01(rng));
    double rc = rn * 2.0 * std::exp(0.3 * e[CellSize] + 0.08 * n01(rng));
    double elong = std::exp(0.35 * e[Elongation] + 0.1 * n01(rng));
    double phi = u01(rng) * M_PI;
    double in = 0.9 * std::exp(0.35 * e[NucleusIntensity]);
    double ic = 0.45 * std::exp(0.35 * e[CytoplasmIntensity]);
    double freq = 1.1 * std::exp(0.3 * e[TextureFrequency]) / scale;
    double amp = std::clamp(0.5 * std::exp(0.5 * e[TextureAmplitude]), 0.0, 1.0);
    double psi = u01(rng) * M_PI, phase = u01(rng) * 2 * M_PI;
    // Organelles (drawn only when rendered, so three-channel screens draw
    // as they always did): mitochondrial puncta, nucleoli, the Golgi's side.
    double mitoPhase[2] = {0, 0}, nucleoli[4] = {0, 0, 0, 0}, golgiAngle = 0;
    if (organelles) {
      mitoPhase[0] = u01(rng) * 2 * M_PI;
      mitoPhase[1] = u01(rng) * 2 * M_PI;
      for (double &x : nucleoli)
        x = 0.45 * rn * (2 * u01(rng) - 1);
      golgiAngle = u01(rng) * 2 * M_PI;
    }
    const double mitoFreq = 2.4 * freq, mitoAmp = std::exp(0.5 * e[TextureAmplitude]);
    const double gx = cx + 1.3 * rn * std::cos(golgiAngle), gy = cy + 1.3 * rn * std::sin(golgiAngle);
    const double rg = 0.7 * rn * std::exp(0.3 * e[CellSize]);
    const double actin = std::exp(0.35 * e[Elongation] + 0.2 * e[CytoplasmIntensity]);
    double cphi = std::cos(phi), sphi = std::sin(phi);
    int64_t r = static_cast<int64_t>(std::ceil(rc * elong * 1.5)) + 1;
    for (int64_t y = std::max<int64_t>(0, cy - r); y < std::min<int64_t>(S, cy + r + 1); ++y)
      for (int64_t x = std::max<int64_t>(0, cx - r); x < std::min<int64_t>(S, cx + r + 1); ++x) {
        double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        double u = (dx * cphi + dy * sphi) / elong, v = (-dx * sphi + dy * cphi) * elong;
        double d = std::sqrt(u * u + v * v);
        double nucleus = 1.0 / (1.0 + std::exp((d - rn) * 2.5));
        double cyto = 1.0 / (1.0 + std::exp((d - rc) * 1.5));
        double texture = 0.5 + 0.5 * amp * std::sin(freq * (dx * std::cos(psi) + dy * std::sin(psi)) + phase);
        double textured = 0.6 * cyto * (1 - 0.7 * nucleus) * texture;
        for (int64_t k = 0; k < C; ++k) {
          double val = 0;
          const Stain st = stain[k % stain.size()];
          switch (st) {
          case Nucleus: val = in * nucleus; break;
          case Cytoplasm: val = ic * cyto; break;
          case TexturedCytoplasm: val = textured; break;
          case ER: { // reticular, brightest around the nucleus
            double reticulum = 0.5 + 0.5 * std::sin(1.7 * freq * u + phase) * std::sin(1.7 * freq * v);
            val = ic * cyto * (0.55 + 0.45 * reticulum) * (0.6 + 0.4 * std::exp(-std::max(0.0, d - rn) / rn));
            break;
          }
          case RNA: {
            double spots = 0;
            for (int n = 0; n < 2; ++n) {
              double ex = u - nucleoli[2 * n], ey = v - nucleoli[2 * n + 1];
              spots += std::exp(-(ex * ex + ey * ey) / (0.08 * rn * rn));
            }
            val = textured + 0.5 * in * nucleus * spots;
            break;
          }
          case Actin: // the cortex, plus stress fibres along the long axis
            val = actin * ic * (3.2 * cyto * (1 - cyto) + 0.4 * cyto * (0.5 + 0.5 * std::sin(3 * freq * v)));
            break;
          case AGP: case Golgi: {
            double ex = x + 0.5 - gx, ey = y + 0.5 - gy;
            double golgi = std::exp(-(ex * ex + ey * ey) / (rg * rg));
            val = ic * (1.6 * cyto * (1 - cyto) * (st == AGP ? actin : 1.0) + 1.2 * golgi * cyto);
            break;
          }
          case Mito: {
            double punct = std::sin(mitoFreq * dx + mitoPhase[0]) * std::sin(mitoFreq * dy + mitoPhase[1]);
            val = ic * mitoAmp * cyto * (1 - 0.8 * nucleus) * 1.6 * punct * punct;
            break;
          }
          }
          if (k >= static_cast<int64_t>(stain.size())) // beyond six: mixes of the six
            val = 0.5 * val * std::exp(0.3 * e[k % kFeatures]) + 0.3 * in * nucleus;
          buf[(k * S + y) * S + x] += val;
        }
      }
  }
  for (int64_t k = 0; k < C; ++k)
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) {
        double illum = 1.0 + plate.gradX * (x / double(S) - 0.5) + plate.gradY * (y / double(S) - 0.5);
        double v = buf[(k * S + y) * S + x] * plate.gain[k] * wellGain * illum + plate.offset[k] +
                   p.noise * n01(rng);
        img[(k * S + y) * S + x] = static_cast<float>(v);
      }
}

} // namespace

Status render(const nlohmann::json &json, Rendered &out) {
  Params &p = out.p;
  if (Status s = readParams(json, p); !s)
    return s;
  std::mt19937_64 rng(p.seed * 0x9E3779B97F4A7C15ull + 17);
  std::normal_distribution<double> n01(0.0, 1.0);
  const int64_t K = p.perturbations + 1; // class 0 is the control

  // Ground truth: genes fall into modules (pathways, complexes: gene g is in
  // module g % modules). A gene's effect is its module's plus a part of its
  // own; each shifts a few features strongly and the rest a little.
  // Knock-downs take their gene's effect, compounds theirs (SimulatedBiology).
  auto sparseEffect = [&](double scale, EffectVector &e) {
    for (int f = 0; f < kFeatures; ++f)
      e[f] = scale * p.effect * n01(rng) *
             (std::uniform_real_distribution<double>(0, 1)(rng) < 0.4 ? 1.6 : 0.5);
  };
  std::vector<EffectVector> moduleEffects(p.modules), geneEffects(simulatedGenes(p));
  for (EffectVector &e : moduleEffects)
    sparseEffect(0.8, e);
  for (size_t g = 0; g < geneEffects.size(); ++g) {
    sparseEffect(0.6, geneEffects[g]);
    for (int f = 0; f < kFeatures; ++f)
      geneEffects[g][f] += moduleEffects[g % p.modules][f];
  }
  makeBiology(p, moduleEffects, geneEffects, out.bio);
  const int64_t knockdowns = p.perturbations - p.compounds;
  std::vector<double> &effects = out.effects;
  effects.assign(K * kFeatures, 0.0);
  out.module.assign(K, -1);
  for (int64_t k = 1; k < K; ++k) {
    const bool knockdown = k <= knockdowns;
    const SimCompound *cpd = knockdown ? nullptr : &out.bio.compounds[k - 1 - knockdowns];
    out.module[k] = knockdown ? out.bio.genes[k - 1].module : cpd->module;
    const EffectVector &e = knockdown ? geneEffects[k - 1] : cpd->effect;
    std::copy(e.begin(), e.end(), effects.begin() + k * kFeatures);
  }

  const int64_t wellsPerPlate = p.perturbations * p.replicates + p.controls;
  out.wellsPerPlate = wellsPerPlate;
  const int64_t N = p.plates * wellsPerPlate * p.sites;
  const int64_t C = p.channels, S = p.size;
  out.images = torch::empty({N, C, S, S}, torch::kFloat32);
  float *data = out.images.data_ptr<float>();
  int64_t site = 0;
  std::vector<double> shown(kFeatures);
  for (int64_t pl = 0; pl < p.plates; ++pl) {
    // A plate holds one cell line; a perturbation shows in it as the line's
    // response scales it, on the line's own base morphology.
    const int64_t line = pl % p.cellLines;
    const SimCellLine &cellLine = out.bio.lines[line];
    PlateNuisance nuisance;
    for (int64_t k = 0; k < C; ++k) {
      nuisance.gain.push_back(std::exp(0.25 * p.batchEffect * n01(rng)));
      nuisance.offset.push_back(0.05 * p.batchEffect * n01(rng));
    }
    nuisance.gradX = 0.6 * p.batchEffect * n01(rng);
    nuisance.gradY = 0.6 * p.batchEffect * n01(rng);
    // The plate map: treatments and controls in a shuffled layout.
    std::vector<int64_t> layout;
    for (int64_t k = 1; k < K; ++k)
      for (int64_t r = 0; r < p.replicates; ++r)
        layout.push_back(k);
    for (int64_t c = 0; c < p.controls; ++c)
      layout.push_back(0);
    std::shuffle(layout.begin(), layout.end(), rng);
    for (int64_t w = 0; w < wellsPerPlate; ++w) {
      double wellGain = std::exp(0.05 * p.batchEffect * n01(rng));
      for (int64_t s = 0; s < p.sites; ++s, ++site) {
        const double response = out.bio.response[line * K + layout[w]];
        for (int f = 0; f < kFeatures; ++f)
          shown[f] = response * effects[layout[w] * kFeatures + f] + cellLine.base[f];
        renderSite(data + site * C * S * S, p, shown.data(), nuisance, wellGain, rng);
        out.lineOf.push_back(line);
        out.pert.push_back(layout[w]);
        out.plateOf.push_back(pl);
        out.wellOf.push_back(pl * wellsPerPlate + w);
        out.wellInPlate.push_back(w);
        out.siteInWell.push_back(s);
        out.heldOut.push_back(pl >= p.plates - p.holdout);
      }
    }
  }
  return Status::ok();
}

Status generateSimulatedScreen(const nlohmann::json &json, Screen &screen) {
  Rendered r;
  if (Status s = render(json, r); !s)
    return s;
  const Params &p = r.p;
  for (size_t i = 0; i < r.pert.size(); ++i)
    (r.heldOut[i] ? screen.evalSites : screen.trainSites).push_back(static_cast<int64_t>(i));
  // Per-channel normalisation with dataset statistics, as real pipelines do.
  torch::Tensor mean = r.images.mean({0, 2, 3}, true),
                std = r.images.std(c10::IntArrayRef{0, 2, 3}, true, true);
  screen.images = (r.images - mean) / (std + 1e-6);
  screen.perturbation = torch::tensor(r.pert, torch::kInt64);
  screen.plate = torch::tensor(r.plateOf, torch::kInt64);
  screen.well = torch::tensor(r.wellOf, torch::kInt64);
  screen.perturbations = p.perturbations + 1;
  screen.plates = p.plates;
  screen.wells = p.plates * r.wellsPerPlate;
  screen.effects = torch::tensor(r.effects, torch::kFloat64).reshape({screen.perturbations, kFeatures});
  screen.module = torch::tensor(r.module, torch::kInt64);
  if (p.micon)
    pairSites(screen);
  return Status::ok();
}

} // namespace exprt
