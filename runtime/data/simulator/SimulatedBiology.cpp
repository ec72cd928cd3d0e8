#include "data/simulator/SimulatedBiology.h"

#include "data/Random.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>
#include <tuple>

namespace exprt {
namespace {

// Scaffolds with two attachment points, {1} and {2}, each where a branch or
// a chain end may stand; every substituent below is written from its
// attachment atom, so any (scaffold, R1, R2) is a valid SMILES. Ring
// closures in substituents use digit 9, which no scaffold uses.
struct Scaffold {
  const char *name, *smiles;
};
constexpr Scaffold kScaffolds[] = {
    {"benzamide", "O=C(N{1})c1ccc({2})cc1"},
    {"quinazoline", "c1cc({2})c2ncnc(N{1})c2c1"},
    {"indole", "c1cc({2})c2[nH]cc(C{1})c2c1"},
    {"pyridine-sulfonamide", "O=S(=O)(N{1})c1ccc({2})nc1"},
    {"aryl-piperazine", "C1CN(c2ccc({2})cc2)CCN1{1}"},
    {"aminothiazole", "c1c({2})sc(NC(=O){1})n1"},
    {"aminopyrimidine", "c1cc(N{1})nc({2})n1"},
    {"phenylurea", "O=C(Nc1ccc({2})cc1)N{1}"},
    {"morpholine-amide", "C1COCCN1C(=O)c1ccc({2})c({1})c1"},
    {"coumarin", "O=c1cc({2})c2ccc({1})cc2o1"},
    {"benzimidazole", "c1cc({2})c2nc({1})[nH]c2c1"},
    {"pyrazole", "c1c({2})n[nH]c1{1}"},
};
// R1 sits on nitrogen or carbon (carbon groups only); R2 on an aromatic
// carbon.
constexpr const char *kR1[] = {
    "C",  "CC",    "C(C)C",     "CC(C)C",   "C9CC9",      "C9CCCC9", "c9ccccc9",
    "Cc9ccccc9", "c9ccncc9", "CCO", "CCOC", "CCN9CCOCC9", "C(F)(F)F", "CC#N",
};
constexpr const char *kR2[] = {
    "C",  "CC",       "OC",  "F",     "Cl", "Br", "C(F)(F)F", "C#N", "N(C)C",     "O",
    "N",  "CO",       "C(N)=O", "S(C)(=O)=O", "c9ccccc9", "C9CC9", "OC(F)(F)F", "c9ccncc9",
};
constexpr int64_t kScaffoldCount = sizeof kScaffolds / sizeof kScaffolds[0];
constexpr int64_t kR1Count = sizeof kR1 / sizeof kR1[0], kR2Count = sizeof kR2 / sizeof kR2[0];
constexpr int kLatent = 8;       // dimensions of the transcriptional state
constexpr int kBackground = 64;  // measured genes that are never perturbed

std::string fill(std::string smiles, const std::string &r1, const std::string &r2) {
  for (auto [key, value] : {std::pair<const char *, const std::string &>{"{1}", r1}, {"{2}", r2}})
    smiles.replace(smiles.find(key), 3, value);
  return smiles;
}

std::string numbered(const char *fmt, long long v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

} // namespace

int64_t simulatedGenes(const Params &p) {
  return std::max(p.perturbations - p.compounds, 2 * p.modules);
}

namespace {

// The simulator's random draws, in one sequence: every part of the biology
// draws from it in turn (the distributions carry state between draws too).
struct Draws {
  std::mt19937_64 rng;
  std::normal_distribution<double> n01{0.0, 1.0};
  std::uniform_real_distribution<double> u01{0.0, 1.0};
};

// A sparse effect: large on about 40% of the features.
EffectVector sparse(Draws &draw, const Params &p, double scale) {
  EffectVector e{};
  for (double &x : e)
    x = scale * p.effect * draw.n01(draw.rng) * (draw.u01(draw.rng) < 0.4 ? 1.6 : 0.5);
  return e;
}

void makeGenes(const Params &p, int64_t G, Draws &draw, Biology &bio) {
  const int64_t M = p.modules;
  // Genes: symbols numbered in a shuffled order so that a name says nothing
  // of the module (text encoders read them).
  std::vector<int64_t> order(G);
  std::iota(order.begin(), order.end(), 1);
  std::shuffle(order.begin(), order.end(), draw.rng);
  for (int64_t g = 0; g < G; ++g)
    bio.genes.push_back({numbered("SIMG%04lld", order[g]), numbered("9606.ENSP9%010lld", order[g]),
                         9000000 + order[g], g % M});
  for (int b = 0; b < kBackground; ++b)
    bio.backgroundGenes.push_back(numbered("SIMBG%03lld", b + 1));

  // Two views of the interactome: dense within modules, sparse noise across.
  auto graph = [&](std::vector<SimEdge> &edges) {
    const double across = std::min(0.5, 1.5 / static_cast<double>(G));
    for (int64_t a = 0; a < G; ++a)
      for (int64_t b = a + 1; b < G; ++b) {
        bool same = bio.genes[a].module == bio.genes[b].module;
        if (draw.u01(draw.rng) >= (same ? 0.5 : across))
          continue;
        int score = same ? (draw.u01(draw.rng) < 0.9 ? 700 + static_cast<int>(draw.u01(draw.rng) * 300)
                                           : 400 + static_cast<int>(draw.u01(draw.rng) * 300))
                         : 150 + static_cast<int>(draw.u01(draw.rng) * 700);
        edges.push_back({a, b, score});
      }
  };
  graph(bio.string);
  graph(bio.hetionet);
}

void makeCompounds(const Params &p, const std::vector<EffectVector> &moduleEffects,
                   const std::vector<EffectVector> &geneEffects, Draws &draw, Biology &bio) {
  const int64_t G = static_cast<int64_t>(geneEffects.size()), M = p.modules;
  // Compounds: a scaffold acts on a module, directly or through a target
  // gene of it; its substituents add effects of their own, so compounds that
  // share structure share effect.
  const int64_t scaffolds = std::clamp<int64_t>(p.compounds / 3, 1, kScaffoldCount);
  std::vector<EffectVector> scaffoldEffects, r1Effects, r2Effects;
  for (int64_t s = 0; s < scaffolds; ++s)
    scaffoldEffects.push_back(sparse(draw, p, 0.5));
  for (int64_t r = 0; r < kR1Count; ++r)
    r1Effects.push_back(sparse(draw, p, 0.25));
  for (int64_t r = 0; r < kR2Count; ++r)
    r2Effects.push_back(sparse(draw, p, 0.25));
  std::set<std::tuple<int64_t, int64_t, int64_t>> made;
  for (int64_t c = 0; c < p.compounds; ++c) {
    const int64_t s = c % scaffolds, m = s % M;
    int64_t r1 = 0, r2 = 0;
    do {
      r1 = static_cast<int64_t>(draw.rng() % kR1Count);
      r2 = static_cast<int64_t>(draw.rng() % kR2Count);
    } while (!made.insert({s, r1, r2}).second);
    SimCompound cpd;
    cpd.name = numbered("SIMCPD%04lld", c + 1);
    cpd.scaffold = kScaffolds[s].name;
    cpd.smiles = fill(kScaffolds[s].smiles, kR1[r1], kR2[r2]);
    cpd.module = m;
    std::vector<int64_t> members;
    for (int64_t g = 0; g < G; ++g)
      if (bio.genes[g].module == m)
        members.push_back(g);
    const bool targeted = draw.u01(draw.rng) < 0.5;
    if (targeted)
      cpd.target = members[draw.rng() % members.size()];
    const double potency = std::exp(0.3 * draw.n01(draw.rng));
    for (int f = 0; f < kFeatures; ++f) {
      double base = targeted ? geneEffects[cpd.target][f] : moduleEffects[m][f] + scaffoldEffects[s][f];
      cpd.effect[f] = potency * base + r1Effects[r1][f] + r2Effects[r2][f];
    }
    bio.compounds.push_back(std::move(cpd));
  }

}

// The cell lines and their expression; returns each line's log expression
// relative to the mean over lines ([line * T + gene]).
std::vector<double> makeCellLines(const Params &p, int64_t G, Draws &draw, Biology &bio) {
  const int64_t M = p.modules, L = p.cellLines;
  // Cell lines: a transcriptional state drives every gene's expression
  // through the gene's loadings, which its module shares; a module shows its
  // perturbations more strongly in lines that express it more.
  const int64_t T = G + kBackground;
  std::vector<std::array<double, kLatent>> moduleLoading(M), loading(T);
  for (auto &w : moduleLoading)
    for (double &x : w)
      x = draw.n01(draw.rng);
  std::vector<double> meanLog(T);
  for (int64_t g = 0; g < T; ++g) {
    for (int d = 0; d < kLatent; ++d)
      loading[g][d] = (g < G ? moduleLoading[bio.genes[g].module][d] : 0.0) + (g < G ? 0.6 : 1.0) * draw.n01(draw.rng);
    meanLog[g] = 1.5 + 0.7 * draw.n01(draw.rng);
  }
  bio.logExpression.assign(L * T, 0.0);
  for (int64_t l = 0; l < L; ++l) {
    SimCellLine line;
    line.name = std::string("SIM") + char('A' + l % 26) + (l >= 26 ? std::to_string(l / 26) : "");
    std::array<double, kLatent> state{};
    for (double &x : state)
      x = draw.n01(draw.rng);
    for (int64_t g = 0; g < T; ++g) {
      double dot = 0;
      for (int d = 0; d < kLatent; ++d)
        dot += loading[g][d] * state[d];
      bio.logExpression[l * T + g] = meanLog[g] + 0.6 * dot / std::sqrt(double(kLatent)) + 0.1 * draw.n01(draw.rng);
    }
    for (double x : state)
      line.embedding.push_back(x + 0.15 * draw.n01(draw.rng));
    for (double &x : line.base)
      x = 0.4 * draw.n01(draw.rng);
    bio.lines.push_back(std::move(line));
  }
  // Relative to the mean over lines: one line is the reference (response 1, base 0).
  std::vector<double> relative(L * T);
  for (int64_t g = 0; g < T; ++g) {
    double mean = 0;
    for (int64_t l = 0; l < L; ++l)
      mean += bio.logExpression[l * T + g] / static_cast<double>(L);
    for (int64_t l = 0; l < L; ++l)
      relative[l * T + g] = bio.logExpression[l * T + g] - mean;
  }
  for (int f = 0; f < kFeatures; ++f) {
    double mean = 0;
    for (const SimCellLine &line : bio.lines)
      mean += line.base[f] / static_cast<double>(L);
    for (SimCellLine &line : bio.lines)
      line.base[f] -= mean;
  }
  return relative;
}

// How strongly each line shows each perturbation: through its module's
// activity in the line and, for a gene or a compound's target, the gene's own.
void makeResponses(const Params &p, int64_t G, const std::vector<double> &relative, Biology &bio) {
  const int64_t M = p.modules, L = p.cellLines, T = G + kBackground;
  const int64_t K = p.perturbations + 1, knockdowns = p.perturbations - p.compounds;
  bio.response.assign(L * K, 1.0);
  for (int64_t l = 0; l < L; ++l) {
    std::vector<double> activity(M, 0.0), members(M, 0.0);
    for (int64_t g = 0; g < G; ++g) {
      activity[bio.genes[g].module] += relative[l * T + g];
      members[bio.genes[g].module] += 1;
    }
    for (int64_t m = 0; m < M; ++m)
      activity[m] /= std::max(1.0, members[m]);
    for (int64_t k = 1; k < K; ++k) {
      double logResponse;
      if (k <= knockdowns) {
        logResponse = 0.7 * activity[bio.genes[k - 1].module] + 0.35 * relative[l * T + k - 1];
      } else {
        const SimCompound &cpd = bio.compounds[k - 1 - knockdowns];
        logResponse = 0.7 * activity[cpd.module] + (cpd.target >= 0 ? 0.35 * relative[l * T + cpd.target] : 0.0);
      }
      bio.response[l * K + k] = std::clamp(std::exp(logResponse), 0.1, 4.0);
    }
  }
}

} // namespace

void makeBiology(const Params &p, const std::vector<EffectVector> &moduleEffects,
                 const std::vector<EffectVector> &geneEffects, Biology &bio) {
  Draws draw{std::mt19937_64(splitmix64(p.seed, "biology"))};
  const int64_t G = static_cast<int64_t>(geneEffects.size());
  makeGenes(p, G, draw, bio);
  makeCompounds(p, moduleEffects, geneEffects, draw, bio);
  std::vector<double> relative = makeCellLines(p, G, draw, bio);
  makeResponses(p, G, relative, bio);
}

} // namespace exprt
