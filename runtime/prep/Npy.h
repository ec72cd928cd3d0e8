// NumPy arrays: .npy bytes (format 1.0-3.0: magic, header dict with
// descr / fortran_order / shape, raw data) and .npz archives of them (the
// Bray 2017 sites as CLOOME preprocessed them).
#pragma once

#include "exprt/Status.h"

#include <torch/types.h>

#include <string>

namespace exprt {

// Little-endian bool, u1, i1, u2 (widened to int32), i2, i4, i8, f2, f4, f8;
// C order only. `where` names the array in errors.
Status decodeNpy(const std::string &where, const std::string &bytes, torch::Tensor &out);

// Array `key` (file `key`.npy) of the .npz at `path`.
Status readNpz(const std::string &path, const std::string &key, torch::Tensor &out);

} // namespace exprt
