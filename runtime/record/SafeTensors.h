// The safetensors format (huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, ...,
// "__metadata__": {string: string}}, then the tensors' bytes back to back.
// No C++ implementation is packaged for Debian; the format is small enough
// to read and write here, with every field checked on read.
#pragma once

#include "exprt/Status.h"

#include <map>
#include <string>
#include <torch/types.h>

namespace exprt {

struct SafeTensors {
  std::map<std::string, torch::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Writes `file` atomically (temporary file, then rename).
Status writeSafeTensors(const std::string &path, const SafeTensors &file);

// Reads and validates `path`; errors name the file and what is wrong with it.
Status readSafeTensors(const std::string &path, SafeTensors &file);

// Maps `path` read-only: the tensors view the file's pages (no copy) and
// keep the mapping alive; validated as readSafeTensors does.
Status mapSafeTensors(const std::string &path, SafeTensors &file);

// The same in memory; `path` only names the file in errors.
Status encodeSafeTensors(const std::string &path, const SafeTensors &file, std::string &bytes);
Status decodeSafeTensors(const std::string &path, const std::string &bytes, SafeTensors &file);

} // namespace exprt
