// Pretrained weights: an encoder block's `weights = "file.safetensors"`
// gives the starting value of each of its parameters (docs/artifact.md,
// "Pretrained weights"). Tensors are matched by their name within the
// encoder (`1.conv2d.weight`), by the full parameter name
// (`cells.1.conv2d.weight`), or as a run's checkpoint stores it
// (`param/cells.1.conv2d.weight`, so a checkpoint's state.safetensors serves
// as weights), else by a unique match of the name within the encoder. Never
// pickle: safetensors only.
#pragma once

#include "exec/GraphExecutor.h"
#include "plan/Plan.h"

#include <string>
#include <vector>

namespace exprt {

struct PretrainedRecord {
  std::string file;                    // resolved path
  std::string sha256;                  // of the file's bytes
  int64_t loaded = 0;                  // parameters set from it
  std::vector<std::string> unexpected; // its tensors no parameter took
};

// Loads every parameter of `plan` that names a weights file into `params`.
// A missing file, a parameter without a tensor, or a tensor of another
// shape (or a non-float dtype) is an error naming the file and the tensors
// (all missing ones, up to 20); tensors no parameter takes are reported in
// the record, not refused (a pretrained backbone often carries a head).
Status loadPretrained(const Plan &plan, ParameterStore &params, std::vector<PretrainedRecord> &records);

} // namespace exprt
