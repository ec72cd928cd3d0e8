// Molecules through RDKit: SMILES (and CXSMILES) parsing with the reason a
// structure is refused, canonical SMILES, Bemis-Murcko scaffolds, Morgan
// (ECFP) fingerprints and atom/bond graphs for a GNN encoder. RDKit stays
// behind this header (its Boost-heavy headers are compiled in one file).
#pragma once

#include "exprt/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace exprt {

// RDKit's canonical SMILES of `smiles`; an unparsable structure is an error
// carrying RDKit's reason ("SMILES Parse Error: unclosed ring ...",
// "Explicit valence for atom # 1 N, 5, is greater than permitted").
Status canonicalSmiles(const std::string &smiles, std::string &canonical);

// The canonical SMILES of the Bemis-Murcko scaffold (ring systems and their
// linkers; "" for an acyclic molecule), as RDKit's
// MurckoScaffold.MurckoScaffoldSmiles gives it.
Status murckoScaffold(const std::string &smiles, std::string &scaffold);

struct MorganOptions {
  int radius = 2;
  int bits = 1024;
  bool chiral = false;
};
// The Morgan fingerprint's on-bits as 0/1 floats (`bits` wide), equal to
// RDKit's GetMorganFingerprintAsBitVect(mol, radius, nBits, useChirality).
Status morganFingerprint(const std::string &smiles, const MorganOptions &o, std::vector<float> &bits);

// Morgan fingerprints of a column of SMILES (rows x bits, row-major). The
// invalid-structure policy of the `morgan` side: with `dropInvalid` an
// unparsable row gets a zero row, `valid[row] = 0` and an entry in
// `invalid` ("WHERE: not a valid SMILES ...") for the run record; without
// it the first one is an error naming `where[row]`. Each distinct SMILES
// is parsed once.
Status morganFingerprints(const std::vector<std::string> &smiles, const std::vector<std::string> &where,
                          const MorganOptions &o, bool dropInvalid, std::vector<float> &bits,
                          std::vector<char> &valid, std::vector<std::string> &invalid);

// A molecule's heavy-atom graph: kAtomFeatures floats per atom, and each
// bond as two directed edges with its order (1, 2, 3; 4 for aromatic).
inline constexpr int kAtomFeatures = 32;
struct MoleculeGraph {
  int64_t atoms = 0;
  std::vector<float> features;         // atoms x kAtomFeatures
  std::vector<int64_t> source, target; // directed edges
  std::vector<int8_t> order;
};
// Atom features: element one-hot (C N O S F Cl Br I P B Si Se, other: 13),
// degree 0..5 (6), formal charge -1/0/+1 (3), hybridisation sp/sp2/sp3/
// sp3d/sp3d2 (5), aromatic (1), attached hydrogens 0..3 (4).
Status moleculeGraph(const std::string &smiles, MoleculeGraph &graph);

} // namespace exprt
