// Decoding and encoding the image files of screens: PNG through libspng,
// TIFF through libtiff, NumPy .npz through libarchive, JPEG 2000 through
// OpenJPEG (prep/Jpeg2000.h), 8 or 16 bits per sample, one or more samples per
// pixel. Every failure (a missing, truncated or corrupt file, an unsupported
// layout) is a Status naming the file.
#pragma once

#include "exprt/Status.h"

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace exprt {

struct Image {
  int64_t width = 0, height = 0, channels = 0; // channels: samples per pixel
  int bits = 8;                                // 8 or 16
  std::vector<uint8_t> data;                   // interleaved; 16-bit samples host-endian

  // [channels, height, width] float32 scaled to [0, 1] by the bit depth.
  torch::Tensor toTensor() const;
};

// The largest image decoded, in bytes of samples (a 20000 x 20000 site
// would take gigabytes; a Cell Painting or RxRx site is a few MB).
constexpr uint64_t kMaxImageBytes = uint64_t(256) << 20;
// An error naming `path` when an image of this size is over kMaxImageBytes
// (checked from the header, before anything is decoded).
Status checkImageSize(const std::string &path, uint64_t width, uint64_t height, uint64_t channels, int bits);

Status readPng(const std::string &path, Image &image);
// The same from the file's bytes (an archive member); `name` is for messages.
Status decodePng(const std::string &bytes, const std::string &name, Image &image);
Status readTiff(const std::string &path, Image &image);
// A NumPy .npz holding array `sample`, height x width x channels, uint8 or
// uint16 (the Bray 2017 sites as CLOOME preprocessed them).
Status readNpzImage(const std::string &path, Image &image);
// By extension: .png, .tif/.tiff, .npz, .jp2/.j2k.
Status readImage(const std::string &path, Image &image);
// An archive member's bytes by its name's extension: .png, .jp2/.j2k.
Status decodeImage(const std::string &bytes, const std::string &name, Image &image);

// Writes a single-channel 8- or 16-bit image atomically.
Status writePng(const std::string &path, const Image &image);
Status writeTiff(const std::string &path, const Image &image);

} // namespace exprt
