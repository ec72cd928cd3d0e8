// The simulated screen's biology (docs/data.md): genes in modules (pathways,
// complexes) with two noisy knowledge graphs over them, compounds built from
// shared scaffolds (valid SMILES; some target a gene), and cell lines with a
// base morphology and a transcriptome that sets how strongly each module's
// perturbations show in them. Internal to runtime/data.
#pragma once

#include "data/simulator/SimulatedParams.h"

#include <array>
#include <string>
#include <vector>

namespace exprt {

using EffectVector = std::array<double, kFeatures>;

struct SimGene {
  std::string symbol;  // SIMG0042; numbered in a shuffled order, so names hide modules
  std::string protein; // 9606.ENSP9..., its STRING id
  int64_t entrez = 0;  // its Hetionet id, Gene::<entrez>
  int64_t module = 0;
};

// An undirected interaction, a < b, with a STRING-like combined score.
struct SimEdge {
  int64_t a, b;
  int score;
};

struct SimCompound {
  std::string name, smiles, scaffold;
  int64_t module = 0;  // the module its scaffold acts on
  int64_t target = -1; // the gene it inhibits, or -1
  EffectVector effect{};
};

struct SimCellLine {
  std::string name;
  EffectVector base{};            // its morphology with no perturbation (mean 0 over lines)
  std::vector<double> embedding;  // an 8-d embedding of its transcriptome (cell_lines.csv)
};

struct Biology {
  std::vector<SimGene> genes;              // the first ones are knocked down, in order
  std::vector<SimEdge> string, hetionet;   // two independent noisy views of the modules
  std::vector<SimCompound> compounds;
  std::vector<SimCellLine> lines;
  std::vector<std::string> backgroundGenes; // measured, never perturbed
  // [lines, genes + background]: log expression (natural log of mean counts).
  std::vector<double> logExpression;
  // [lines, K]: how strongly perturbation k shows in each line; 1 with one line.
  std::vector<double> response;
};

// The biology of `p` from its own random stream (seeded by p.seed), given
// the module and gene effects the renderer drew. Perturbation k in 1..K-1 is
// a knock-down of gene k-1 while k <= p.perturbations - p.compounds, else
// compound k - 1 - (p.perturbations - p.compounds).
void makeBiology(const Params &p, const std::vector<EffectVector> &moduleEffects,
                 const std::vector<EffectVector> &geneEffects, Biology &bio);

// The number of genes a screen of `p` has: its knock-downs, and at least two
// per module.
int64_t simulatedGenes(const Params &p);

} // namespace exprt
