// Molecules through RDKit (issue 7): fingerprints and scaffolds equal
// RDKit's Python API (2022.09.3, the same library), invalid structures are
// refused with RDKit's reason, and atom graphs have the documented features.
#include "side/Molecules.h"

#include <doctest/doctest.h>

#include <vector>

using namespace exprt;

namespace {
std::vector<int> onBits(const std::vector<float> &bits) {
  std::vector<int> on;
  for (size_t i = 0; i < bits.size(); ++i)
    if (bits[i] == 1.0f)
      on.push_back(static_cast<int>(i));
    else
      REQUIRE(bits[i] == 0.0f);
  return on;
}
} // namespace

TEST_CASE("molecules: Morgan fingerprints equal RDKit's GetMorganFingerprintAsBitVect") {
  std::vector<float> bits;
  // Aspirin, radius 2, 1024 bits (reference: AllChem.GetMorganFingerprintAsBitVect(m, 2, 1024)).
  REQUIRE(morganFingerprint("CC(=O)Oc1ccccc1C(=O)O", {2, 1024, false}, bits).isOk());
  CHECK(onBits(bits) == std::vector<int>{11,  23,  33,  64,  175, 356, 386, 389, 423, 444, 456, 592,
                                         650, 695, 705, 726, 751, 807, 849, 893, 909, 946, 967, 1017});
  // Caffeine written in Kekulé form.
  REQUIRE(morganFingerprint("CN1C=NC2=C1C(=O)N(C(=O)N2C)C", {2, 1024, false}, bits).isOk());
  CHECK(onBits(bits) == std::vector<int>{0,   33,  121, 179, 234, 283, 314, 330, 356, 378, 385, 400,
                                         416, 428, 463, 493, 504, 564, 650, 672, 771, 849, 932, 935});
  // Chirality: the two alanines differ only when asked (2048 bits, useChirality=True).
  std::vector<float> l, d;
  REQUIRE(morganFingerprint("C[C@H](N)C(=O)O", {2, 2048, true}, l).isOk());
  REQUIRE(morganFingerprint("C[C@@H](N)C(=O)O", {2, 2048, true}, d).isOk());
  CHECK(onBits(l) == std::vector<int>{1, 283, 389, 650, 786, 807, 1057, 1112, 1171, 1187, 1844, 1917});
  CHECK(onBits(d) == std::vector<int>{1, 46, 283, 389, 650, 786, 807, 1057, 1113, 1171, 1844, 1917});
  REQUIRE(morganFingerprint("C[C@H](N)C(=O)O", {2, 1024, false}, l).isOk());
  REQUIRE(morganFingerprint("C[C@@H](N)C(=O)O", {2, 1024, false}, d).isOk());
  CHECK(l == d);
}

TEST_CASE("molecules: canonical SMILES and Bemis-Murcko scaffolds as RDKit gives them") {
  std::string out;
  REQUIRE(canonicalSmiles("CN1C=NC2=C1C(=O)N(C(=O)N2C)C", out).isOk());
  CHECK(out == "Cn1c(=O)c2c(ncn2C)n(C)c1=O");
  REQUIRE(murckoScaffold("CC(=O)Oc1ccccc1C(=O)O", out).isOk());
  CHECK(out == "c1ccccc1");
  REQUIRE(murckoScaffold("CN1C=NC2=C1C(=O)N(C(=O)N2C)C", out).isOk());
  CHECK(out == "O=c1[nH]c(=O)c2[nH]cnc2[nH]1");
  REQUIRE(murckoScaffold("C[C@H](N)C(=O)O", out).isOk());
  CHECK(out == ""); // acyclic
  // CXSMILES extensions are accepted.
  REQUIRE(canonicalSmiles("CC(C)Cc1ccc(cc1)C(C)C(=O)O |r|", out).isOk());
  CHECK(out == "CC(C)Cc1ccc(C(C)C(=O)O)cc1");
}

TEST_CASE("molecules: an invalid structure is refused with RDKit's reason, nothing printed") {
  std::string out;
  Status s = canonicalSmiles("C1CC", out);
  CHECK(s.message() == "not a valid SMILES `C1CC`: SMILES Parse Error: unclosed ring for input: 'C1CC'");
  s = canonicalSmiles("CN(C)(C)(C)C", out);
  CHECK(s.message() == "not a valid SMILES `CN(C)(C)(C)C`: Explicit valence for atom # 1 N, 5, is greater than "
                       "permitted");
  CHECK(canonicalSmiles("c1cccc1", out).message().find("Can't kekulize mol") != std::string::npos);
  CHECK(canonicalSmiles("xyz", out).message().find("syntax error") != std::string::npos);
  CHECK(canonicalSmiles("", out).message() == "not a valid SMILES ``: an empty SMILES");
  std::vector<float> bits;
  CHECK(!morganFingerprint("C1CC", {}, bits));
}

TEST_CASE("molecules: atom graphs of heavy atoms with one-hot features and two edges per bond") {
  MoleculeGraph g;
  REQUIRE(moleculeGraph("c1ccccc1O", g).isOk()); // phenol
  REQUIRE(g.atoms == 7);
  REQUIRE(g.features.size() == size_t(7 * kAtomFeatures));
  CHECK(g.source.size() == 14); // 7 bonds, both directions
  auto f = [&](int atom, int k) { return g.features[size_t(atom * kAtomFeatures + k)]; };
  CHECK(f(0, 0) == 1);  // carbon
  CHECK(f(6, 2) == 1);  // oxygen
  CHECK(f(0, 27) == 1); // aromatic
  CHECK(f(6, 27) == 0);
  CHECK(f(6, 13 + 1) == 1); // degree 1
  CHECK(f(6, 28 + 1) == 1); // one hydrogen
  CHECK(f(1, 28 + 1) == 1); // aromatic CH
  CHECK(f(0, 22 + 1) == 1); // sp2
  int aromatic = 0;
  for (int8_t o : g.order)
    aromatic += o == 4;
  CHECK(aromatic == 12);
  // Every atom has exactly one element, degree, hydrogen count.
  for (int a = 0; a < 7; ++a) {
    float element = 0, degree = 0, hs = 0;
    for (int k = 0; k < 13; ++k) element += f(a, k);
    for (int k = 13; k < 19; ++k) degree += f(a, k);
    for (int k = 28; k < 32; ++k) hs += f(a, k);
    CHECK(element == 1);
    CHECK(degree == 1);
    CHECK(hs == 1);
  }
}
