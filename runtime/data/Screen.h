// The dataset a run reads, in memory: its images (often a memory-mapped
// packed file), labels and side features per row, the train / validation /
// held-out rows, and the pairing and bagging of rows (MICON's treated and
// control views, wells as bags of sites). Every source fills one
// (data/LoadScreen.h); the simulator (data/simulator/) renders one.
#pragma once

#include "data/Pairing.h"
#include "exprt/Status.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace exprt {

// Float batches handed out again once nobody holds their storage: a batch of
// large images is tens of MB, and a fresh allocation of that size comes from
// mmap and is zeroed page by page every time (glibc caps its reuse at 32 MB).
class BufferPool {
public:
  torch::Tensor take(const std::vector<int64_t> &shape);

private:
  std::mutex mutex_;
  std::vector<torch::Tensor> buffers_;
};

struct Screen {
  // [N, C, H, W]: float32 normalised per channel when `mean` is undefined;
  // else packed uint8 ([0, 255]) or float16 ([0, 1]), often memory-mapped,
  // normalised with `mean` and `std` ([C], of the [0, 1] values) as rows are read.
  torch::Tensor images;
  torch::Tensor mean, std;
  torch::Tensor perturbation; // [N] int64; 0 is the control
  torch::Tensor plate;        // [N] int64
  torch::Tensor well;         // [N] int64, unique across plates
  torch::Tensor batch, source; // [N] int64 where the data has them (pairing's fallbacks)
  // The source's own label columns by their declared names (RxRx1's `sirna`,
  // `cell_type`, ...), [N] int64; they take precedence over the ones above.
  std::map<std::string, torch::Tensor> labels;
  // Side information featurised per row ("side:NAME" -> [N, dim] float32),
  // and side information that is one table for all rows (a knowledge
  // graph's [K, K] weights over a labels column's classes).
  std::map<std::string, torch::Tensor> features, constants;
  // The reader's metadata per row, as strings (the SiteIndex columns: cell
  // type names, SMILES, ...), and the metadata line of each row; side
  // information is keyed by them. Empty for screens generated in memory.
  std::map<std::string, std::vector<std::string>> metadata;
  std::vector<std::string> rowWhere;
  std::map<std::string, std::map<std::string, std::string>> valueWhere; // SiteIndex::valueWhere
  // The dataset's folder on disk (a real source's path, or where the
  // simulated screen was written), which `@data/` side paths name, and
  // what keeps a temporary one alive.
  std::string dataDir;
  std::shared_ptr<void> dataDirOwner;
  std::string dataSha256;     // the content hash of the images ("" : hash `images`)
  std::vector<int64_t> trainSites, evalSites;
  std::vector<int64_t> valSites; // training wells kept aside (splitValidation)
  int64_t perturbations = 0; // classes, control included
  int64_t plates = 0, wells = 0;
  torch::Tensor effects; // [perturbations, features]: the ground truth
  torch::Tensor module;  // [perturbations] int64: each one's module (-1: the control)

  // pairing = "micon": the splits hold treated sites only; `controls` draws
  // a control for a site (same plate, else same split), `siblings` another
  // site of its perturbation (same plate, else same split).
  bool paired = false;
  GroupSampler controls, siblings;
  // bag > 1: the splits hold one site per well (its first), and the image
  // column gives `bag` of the well's sites per row (bagSites).
  int64_t bag = 1;
  std::map<int64_t, std::vector<int64_t>> wellSites; // well -> its sites

  // A column by name ("image", "perturbation", "plate", "well"; with
  // pairing "treated1", "control1", "treated2", "control2") for `sites`.
  // Paired columns are drawn from `draw` and each site (docs/stdlib.md).
  torch::Tensor column(const std::string &name, const torch::Tensor &sites,
                       uint64_t draw = 0) const;
  bool hasColumn(const std::string &name) const;

  // Images of `rows`, float32 [n, C, H, W], normalised.
  torch::Tensor imageRows(const torch::Tensor &rows) const;

private:
  std::shared_ptr<BufferPool> batchBuffers_ = std::make_shared<BufferPool>();
  std::vector<int64_t> bagRows(const torch::Tensor &sites, uint64_t draw) const;
  std::vector<int64_t> pairedRows(const std::string &name, const torch::Tensor &sites,
                                  uint64_t draw) const;
};

// pairing = "micon" over a screen's splits (see Screen::paired).
void pairSites(Screen &screen);

// Makes rows wells with bags of `bag` sites: each split keeps its wells'
// first sites, and `column("image", ...)` draws `bag` sites of each row's
// well (a subset when it has more, with repetition when it has fewer).
void bagSites(Screen &screen, int64_t bag);

// Moves `fraction` of the training wells (at least one, and never all),
// chosen from `seed`, with all their sites from `trainSites` to `valSites`:
// sites of one well never straddle the two.
void splitValidation(Screen &screen, double fraction, uint64_t seed);

} // namespace exprt
