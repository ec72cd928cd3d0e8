// JPEG 2000 through OpenJPEG: RxRx3-core's `.jp2` channel images (8-bit
// grayscale, in WebDataset tar shards), decoded from memory; and lossless
// encoding for the simulated screen in RxRx3-core's layout.
#pragma once

#include "prep/Image.h"

namespace exprt {

// Decodes a JP2 or J2K codestream (by its signature); `name` is for messages.
// Components must share one size and an 8- or 16-bit depth.
Status decodeJpeg2000(const std::string &bytes, const std::string &name, Image &image);

// Encodes a one-channel 8- or 16-bit image losslessly as JP2.
Status encodeJpeg2000(const Image &image, std::string &bytes);

} // namespace exprt
