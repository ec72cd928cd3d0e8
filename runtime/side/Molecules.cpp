#include "side/Molecules.h"

#include "features/Switches.h"

#if EXP_WITH_RDKIT
#include <DataStructs/ExplicitBitVect.h>
#include <GraphMol/ChemTransforms/ChemTransforms.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/RDLog.h>

#include <memory>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace exprt {
namespace {

// RDKit reports why a structure is refused on its error log (and sometimes
// also by throwing); both are caught here and become the Status's message,
// so nothing reaches the user's terminal unasked.
std::mutex logMutex;

std::string lastLine(const std::string &log) {
  std::string s = log;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  // Several lines: the first says what was wrong ("syntax error while parsing").
  size_t end = s.find('\n');
  std::string first = end == std::string::npos ? s : s.substr(0, end);
  // Drop the "[hh:mm:ss] " time stamp.
  if (!first.empty() && first[0] == '[') {
    size_t close = first.find("] ");
    if (close != std::string::npos)
      first = first.substr(close + 2);
  }
  return first;
}

Status parse(const std::string &smiles, std::unique_ptr<RDKit::RWMol> &mol) {
  static std::once_flag once;
  std::call_once(once, [] { RDLog::InitLogs(); });
  std::lock_guard<std::mutex> lock(logMutex);
  std::ostringstream log;
  std::ostream *errors = rdErrorLog->dp_dest, *warnings = rdWarningLog->dp_dest;
  rdErrorLog->dp_dest = &log;
  rdWarningLog->dp_dest = &log;
  std::string thrown;
  try {
    mol.reset(RDKit::SmilesToMol(smiles));
  } catch (const std::exception &e) {
    thrown = e.what();
    mol.reset();
  }
  rdErrorLog->dp_dest = errors;
  rdWarningLog->dp_dest = warnings;
  if (mol && mol->getNumAtoms() > 0)
    return Status::ok();
  mol.reset();
  std::string why = thrown.empty() ? lastLine(log.str()) : thrown;
  if (why.empty())
    why = smiles.empty() ? "an empty SMILES" : "no atoms";
  return Status::error(ErrorKind::InputMalformed, "not a valid SMILES `" + smiles + "`: " + why);
}

} // namespace

Status canonicalSmiles(const std::string &smiles, std::string &canonical) {
  std::unique_ptr<RDKit::RWMol> mol;
  if (Status s = parse(smiles, mol); !s)
    return s;
  canonical = RDKit::MolToSmiles(*mol);
  return Status::ok();
}

Status murckoScaffold(const std::string &smiles, std::string &scaffold) {
  std::unique_ptr<RDKit::RWMol> mol;
  if (Status s = parse(smiles, mol); !s)
    return s;
  std::unique_ptr<RDKit::ROMol> core(RDKit::MurckoDecompose(*mol));
  scaffold = core ? RDKit::MolToSmiles(*core) : "";
  return Status::ok();
}

Status morganFingerprint(const std::string &smiles, const MorganOptions &o, std::vector<float> &bits) {
  std::unique_ptr<RDKit::RWMol> mol;
  if (Status s = parse(smiles, mol); !s)
    return s;
  std::unique_ptr<ExplicitBitVect> fp(RDKit::MorganFingerprints::getFingerprintAsBitVect(
      *mol, static_cast<unsigned>(o.radius), static_cast<unsigned>(o.bits), nullptr, nullptr, o.chiral));
  bits.assign(static_cast<size_t>(o.bits), 0.0f);
  std::vector<int> on;
  fp->getOnBits(on);
  for (int b : on)
    bits[static_cast<size_t>(b)] = 1.0f;
  return Status::ok();
}

Status morganFingerprints(const std::vector<std::string> &smiles, const std::vector<std::string> &where,
                          const MorganOptions &o, bool dropInvalid, std::vector<float> &bits,
                          std::vector<char> &valid, std::vector<std::string> &invalid) {
  const size_t n = smiles.size(), width = static_cast<size_t>(o.bits);
  bits.assign(n * width, 0.0f);
  valid.assign(n, 1);
  invalid.clear();
  std::unordered_map<std::string, size_t> firstRow; // a SMILES seen before: copy its row
  std::unordered_map<size_t, std::string> reason;   // why a first row was refused
  std::vector<float> one;
  for (size_t r = 0; r < n; ++r) {
    auto [it, fresh] = firstRow.emplace(smiles[r], r);
    if (!fresh) {
      valid[r] = valid[it->second];
      std::copy_n(bits.begin() + static_cast<std::ptrdiff_t>(it->second * width), width,
                  bits.begin() + static_cast<std::ptrdiff_t>(r * width));
      if (!valid[r])
        invalid.push_back(where[r] + ": " + reason[it->second]);
      continue;
    }
    Status s = morganFingerprint(smiles[r], o, one);
    if (!s) {
      if (!dropInvalid)
        return s.prefixed(where[r] + ": ");
      valid[r] = 0;
      reason[r] = s.message();
      invalid.push_back(where[r] + ": " + s.message());
      continue;
    }
    std::copy(one.begin(), one.end(), bits.begin() + static_cast<std::ptrdiff_t>(r * width));
  }
  return Status::ok();
}

Status moleculeGraph(const std::string &smiles, MoleculeGraph &g) {
  std::unique_ptr<RDKit::RWMol> mol;
  if (Status s = parse(smiles, mol); !s)
    return s;
  g = MoleculeGraph();
  g.atoms = mol->getNumAtoms();
  g.features.assign(static_cast<size_t>(g.atoms * kAtomFeatures), 0.0f);
  static const int kElements[] = {6, 7, 8, 16, 9, 17, 35, 53, 15, 5, 14, 34};
  using H = RDKit::Atom::HybridizationType;
  static const H kHybrid[] = {H::SP, H::SP2, H::SP3, H::SP3D, H::SP3D2};
  for (const RDKit::Atom *atom : mol->atoms()) {
    float *f = g.features.data() + atom->getIdx() * kAtomFeatures;
    int element = 12;
    for (int k = 0; k < 12; ++k)
      if (atom->getAtomicNum() == kElements[k])
        element = k;
    f[element] = 1;
    f[13 + std::min<unsigned>(atom->getDegree(), 5)] = 1;
    int charge = atom->getFormalCharge();
    if (charge >= -1 && charge <= 1)
      f[19 + charge + 1] = 1;
    for (int k = 0; k < 5; ++k)
      if (atom->getHybridization() == kHybrid[k])
        f[22 + k] = 1;
    f[27] = atom->getIsAromatic() ? 1 : 0;
    f[28 + std::min<unsigned>(atom->getTotalNumHs(), 3)] = 1;
  }
  for (const RDKit::Bond *bond : mol->bonds()) {
    int8_t order = bond->getIsAromatic()                            ? 4
                   : bond->getBondType() == RDKit::Bond::DOUBLE ? 2
                   : bond->getBondType() == RDKit::Bond::TRIPLE ? 3
                                                                : 1;
    int64_t a = bond->getBeginAtomIdx(), b = bond->getEndAtomIdx();
    for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
      g.source.push_back(from);
      g.target.push_back(to);
      g.order.push_back(order);
    }
  }
  return Status::ok();
}

} // namespace exprt
#else
namespace exprt {

namespace {
Status noRdkit(const std::string &smiles) { return missingFeature(BuildFeature::Molecules, "SMILES `" + smiles + "`"); }
} // namespace

Status canonicalSmiles(const std::string &smiles, std::string &) { return noRdkit(smiles); }
Status murckoScaffold(const std::string &smiles, std::string &) { return noRdkit(smiles); }
Status morganFingerprint(const std::string &smiles, const MorganOptions &, std::vector<float> &) {
  return noRdkit(smiles);
}
Status morganFingerprints(const std::vector<std::string> &smiles, const std::vector<std::string> &where,
                          const MorganOptions &, bool, std::vector<float> &, std::vector<char> &,
                          std::vector<std::string> &) {
  return missingFeature(BuildFeature::Molecules, where.empty() ? std::string("SMILES") : where[0]);
}
Status moleculeGraph(const std::string &smiles, MoleculeGraph &) { return noRdkit(smiles); }

} // namespace exprt
#endif
