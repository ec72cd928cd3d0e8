#include "prep/Image.h"

#include "prep/Jpeg2000.h"

#include "prep/Npy.h"
#include "record/Json.h"

#include "features/Switches.h"

#if EXP_WITH_SPNG
#include <spng.h>
#endif
#if EXP_WITH_TIFF
#include <tiffio.h>
#endif

#include <torch/torch.h>

#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <memory>

#include <unistd.h>

namespace exprt {

torch::Tensor Image::toTensor() const {
  const std::vector<int64_t> hw{height, width, channels};
  torch::Tensor t;
  if (bits == 8) {
    t = torch::from_blob(const_cast<uint8_t *>(data.data()), hw, torch::kUInt8)
            .to(torch::kFloat32)
            .div_(255.0);
  } else {
    // torch 1.13 has no uint16: widen through int32.
    std::vector<int32_t> wide(static_cast<size_t>(width * height * channels));
    const auto *src = reinterpret_cast<const uint16_t *>(data.data());
    for (size_t i = 0; i < wide.size(); ++i)
      wide[i] = src[i];
    t = torch::from_blob(wide.data(), hw, torch::kInt32).to(torch::kFloat32).div_(65535.0);
  }
  return t.permute({2, 0, 1}).contiguous();
}

Status readPng(const std::string &path, Image &image) {
  std::string bytes;
  if (!readFile(path, bytes))
    return Status::error(ErrorKind::InputUnreadable, path + ": cannot open");
  return decodePng(bytes, path, image);
}

Status checkImageSize(const std::string &path, uint64_t width, uint64_t height, uint64_t channels, int bits) {
  // Each factor is below 2^32, so the product of two cannot overflow; past
  // the limit it is refused before the next multiplication.
  const uint64_t pixels = width * height;
  const uint64_t bytes = pixels > kMaxImageBytes ? pixels : pixels * channels * uint64_t(bits > 8 ? 2 : 1);
  if (bytes <= kMaxImageBytes)
    return Status::ok();
  return Status::error(ErrorKind::InputUnsupported,
                       path + ": " + std::to_string(width) + " x " + std::to_string(height) + " pixels of " +
                           std::to_string(channels) + " x " + std::to_string(bits) +
                           " bits is over the limit of " + std::to_string(kMaxImageBytes >> 20) +
                           " MiB for one decoded image; tile or downscale it first");
}

#if EXP_WITH_SPNG
Status decodePng(const std::string &bytes, const std::string &path, Image &image) {
  std::unique_ptr<spng_ctx, void (*)(spng_ctx *)> ctx(spng_ctx_new(0), spng_ctx_free);
  auto fail = [&](int rc) { return Status::error(ErrorKind::InputMalformed, path + ": not a readable PNG: " + spng_strerror(rc)); };
  spng_set_image_limits(ctx.get(), 1 << 16, 1 << 16);
  int rc = spng_set_png_buffer(ctx.get(), bytes.data(), bytes.size());
  spng_ihdr ihdr;
  if (rc == 0)
    rc = spng_get_ihdr(ctx.get(), &ihdr);
  if (rc)
    return fail(rc);
  int samples = 0;
  switch (ihdr.color_type) {
  case SPNG_COLOR_TYPE_GRAYSCALE: samples = 1; break;
  case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: samples = 2; break;
  case SPNG_COLOR_TYPE_TRUECOLOR: samples = 3; break;
  case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: samples = 4; break;
  default:
    return Status::error(ErrorKind::InputUnsupported, path + ": palette PNGs are not microscopy images; expected grayscale or RGB");
  }
  if (ihdr.bit_depth != 8 && ihdr.bit_depth != 16)
    return Status::error(ErrorKind::InputUnsupported, path + ": " + std::to_string(ihdr.bit_depth) +
                         "-bit PNG; expected 8 or 16 bits per sample");
  if (Status s = checkImageSize(path, ihdr.width, ihdr.height, samples, ihdr.bit_depth); !s)
    return s;
  size_t size = 0;
  if ((rc = spng_decoded_image_size(ctx.get(), SPNG_FMT_PNG, &size)))
    return fail(rc);
  image.width = ihdr.width;
  image.height = ihdr.height;
  image.channels = samples;
  image.bits = ihdr.bit_depth;
  image.data.resize(size);
  // SPNG_FMT_PNG keeps the file's layout, with 16-bit samples host-endian.
  if ((rc = spng_decode_image(ctx.get(), image.data.data(), size, SPNG_FMT_PNG, 0)))
    return fail(rc);
  return Status::ok();
}

Status writePng(const std::string &path, const Image &image) {
  std::unique_ptr<spng_ctx, void (*)(spng_ctx *)> ctx(spng_ctx_new(SPNG_CTX_ENCODER), spng_ctx_free);
  spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = static_cast<uint32_t>(image.width);
  ihdr.height = static_cast<uint32_t>(image.height);
  ihdr.bit_depth = static_cast<uint8_t>(image.bits);
  ihdr.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
  int rc = image.channels == 1 ? spng_set_ihdr(ctx.get(), &ihdr) : SPNG_EINTERNAL;
  if (rc == 0)
    rc = spng_encode_image(ctx.get(), image.data.data(), image.data.size(), SPNG_FMT_PNG,
                           SPNG_ENCODE_FINALIZE);
  if (rc)
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot encode PNG: " + spng_strerror(rc));
  size_t len = 0;
  std::unique_ptr<void, void (*)(void *)> out(spng_get_png_buffer(ctx.get(), &len, &rc), std::free);
  if (!out)
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot encode PNG: " + spng_strerror(rc));
  return writeFileAtomic(path, std::string(static_cast<const char *>(out.get()), len));
}

#else
Status decodePng(const std::string &, const std::string &path, Image &) {
  return missingFeature(BuildFeature::Png, path);
}
Status writePng(const std::string &path, const Image &) { return missingFeature(BuildFeature::Png, path); }
#endif

#if EXP_WITH_TIFF
namespace {

// libtiff reports through global handlers; the message of the last error
// on this thread goes into the Status.
thread_local std::string tiffError;
void onTiffError(const char *module, const char *fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  tiffError = buf;
}
void onTiffWarning(const char *, const char *, va_list) {}
void installTiffHandlers() {
  static bool once = [] {
    TIFFSetErrorHandler(onTiffError);
    TIFFSetWarningHandler(onTiffWarning);
    return true;
  }();
  (void)once;
}

} // namespace

Status readTiff(const std::string &path, Image &image) {
  installTiffHandlers();
  tiffError.clear();
  std::unique_ptr<TIFF, void (*)(TIFF *)> tif(TIFFOpen(path.c_str(), "r"), TIFFClose);
  auto fail = [&](const std::string &what, ErrorKind kind = ErrorKind::InputMalformed) {
    return Status::error(kind, path + ": " + what + (tiffError.empty() ? "" : ": " + tiffError));
  };
  if (!tif)
    return fail("not a readable TIFF");
  uint32_t w = 0, h = 0;
  uint16_t bits = 0, samples = 1, format = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
  TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &samples);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_PLANARCONFIG, &planar);
  if (w == 0 || h == 0)
    return fail("the TIFF has no image size");
  if ((bits != 8 && bits != 16) || format != SAMPLEFORMAT_UINT)
    return fail(std::to_string(bits) + "-bit " + (format == SAMPLEFORMAT_UINT ? "unsigned" : "non-integer") +
                    " samples; expected 8- or 16-bit unsigned integers",
                ErrorKind::InputUnsupported);
  if (TIFFIsTiled(tif.get()))
    return fail("tiled TIFFs are not supported; re-save it with strips (e.g. `tiffcp -s`)", ErrorKind::InputUnsupported);
  if (planar != PLANARCONFIG_CONTIG && samples > 1)
    return fail("planar-separated TIFFs are not supported; re-save it contiguous (`tiffcp -p contig`)", ErrorKind::InputUnsupported);
  if (Status s = checkImageSize(path, w, h, samples, bits); !s)
    return s;
  image.width = w;
  image.height = h;
  image.channels = samples;
  image.bits = bits;
  const size_t row = size_t(w) * samples * (bits / 8);
  if (static_cast<size_t>(TIFFScanlineSize(tif.get())) != row)
    return fail("unexpected scanline size");
  image.data.resize(row * h);
  for (uint32_t y = 0; y < h; ++y)
    if (TIFFReadScanline(tif.get(), image.data.data() + y * row, y, 0) < 0)
      return fail("cannot read row " + std::to_string(y) + " (truncated or corrupt)");
  return Status::ok();
}

Status writeTiff(const std::string &path, const Image &image) {
  installTiffHandlers();
  tiffError.clear();
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::unique_ptr<TIFF, void (*)(TIFF *)> tif(TIFFOpen(tmp.c_str(), "w"), TIFFClose);
    if (!tif)
      return Status::error(ErrorKind::OutputUnwritable, path + ": cannot create: " + tiffError);
    TIFFSetField(tif.get(), TIFFTAG_IMAGEWIDTH, uint32_t(image.width));
    TIFFSetField(tif.get(), TIFFTAG_IMAGELENGTH, uint32_t(image.height));
    TIFFSetField(tif.get(), TIFFTAG_BITSPERSAMPLE, uint16_t(image.bits));
    TIFFSetField(tif.get(), TIFFTAG_SAMPLESPERPIXEL, uint16_t(image.channels));
    TIFFSetField(tif.get(), TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif.get(), TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif.get(), TIFFTAG_COMPRESSION, COMPRESSION_NONE);
    TIFFSetField(tif.get(), TIFFTAG_ROWSPERSTRIP, uint32_t(image.height));
    const size_t row = size_t(image.width) * image.channels * (image.bits / 8);
    for (int64_t y = 0; y < image.height; ++y)
      if (TIFFWriteScanline(tif.get(), const_cast<uint8_t *>(image.data.data()) + y * row,
                            uint32_t(y), 0) < 0) {
        std::remove(tmp.c_str());
        return Status::error(ErrorKind::OutputUnwritable, path + ": cannot write: " + tiffError);
      }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot rename into place");
  }
  return Status::ok();
}

#else
Status readTiff(const std::string &path, Image &) { return missingFeature(BuildFeature::Tiff, path); }
Status writeTiff(const std::string &path, const Image &) { return missingFeature(BuildFeature::Tiff, path); }
#endif

Status readNpzImage(const std::string &path, Image &image) {
  torch::Tensor a;
  if (Status s = readNpz(path, "sample", a); !s)
    return s;
  if (a.dim() != 3 || (a.scalar_type() != torch::kUInt8 && a.scalar_type() != torch::kInt32))
    return Status::error(ErrorKind::InputUnsupported, path + ": array `sample` is " + std::to_string(a.dim()) + "-d " +
                         std::string(c10::toString(a.scalar_type())) +
                         "; expected height x width x channels of uint8 or uint16");
  image.height = a.size(0);
  image.width = a.size(1);
  image.channels = a.size(2);
  image.bits = a.scalar_type() == torch::kUInt8 ? 8 : 16;
  if (image.bits == 8) {
    image.data.assign(a.data_ptr<uint8_t>(), a.data_ptr<uint8_t>() + a.numel());
  } else {
    image.data.resize(static_cast<size_t>(a.numel()) * 2);
    auto *out = reinterpret_cast<uint16_t *>(image.data.data());
    for (int64_t i = 0; i < a.numel(); ++i)
      out[i] = static_cast<uint16_t>(a.data_ptr<int32_t>()[i]);
  }
  return Status::ok();
}

namespace {
std::string lowerExtension(const std::string &path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char &c : ext)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}
} // namespace

Status readImage(const std::string &path, Image &image) {
  const std::string ext = lowerExtension(path);
  if (ext == ".png")
    return readPng(path, image);
  if (ext == ".tif" || ext == ".tiff")
    return readTiff(path, image);
  if (ext == ".npz")
    return readNpzImage(path, image);
  if (ext == ".jp2" || ext == ".j2k") {
    std::string bytes;
    if (!readFile(path, bytes))
      return Status::error(ErrorKind::InputUnreadable, path + ": cannot open");
    return decodeJpeg2000(bytes, path, image);
  }
  return Status::error(ErrorKind::InputUnsupported, path + ": unknown image format `" + ext + "`; expected .png, .tif, .npz or .jp2");
}

Status decodeImage(const std::string &bytes, const std::string &name, Image &image) {
  const std::string ext = lowerExtension(name);
  if (ext == ".png")
    return decodePng(bytes, name, image);
  if (ext == ".jp2" || ext == ".j2k")
    return decodeJpeg2000(bytes, name, image);
  return Status::error(ErrorKind::InputUnsupported, name + ": unknown image format `" + ext + "` in an archive; expected .png or .jp2");
}

} // namespace exprt
