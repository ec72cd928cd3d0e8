#include "prep/Jpeg2000.h"

#include "features/Switches.h"

#if EXP_WITH_OPENJPEG
#include <openjpeg.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

namespace exprt {
namespace {

// An in-memory stream OpenJPEG reads from (`in`) or writes to (`bytes`).
struct Buffer {
  std::string *bytes = nullptr;
  const std::string *in = nullptr;
  size_t at = 0;
};

OPJ_SIZE_T readBytes(void *out, OPJ_SIZE_T n, void *user) {
  auto *b = static_cast<Buffer *>(user);
  if (b->at >= b->in->size())
    return static_cast<OPJ_SIZE_T>(-1);
  n = std::min<OPJ_SIZE_T>(n, b->in->size() - b->at);
  std::memcpy(out, b->in->data() + b->at, n);
  b->at += n;
  return n;
}
OPJ_SIZE_T writeBytes(void *in, OPJ_SIZE_T n, void *user) {
  auto *b = static_cast<Buffer *>(user);
  if (b->bytes->size() < b->at + n)
    b->bytes->resize(b->at + n);
  std::memcpy(b->bytes->data() + b->at, in, n);
  b->at += n;
  return n;
}
OPJ_OFF_T skipBytes(OPJ_OFF_T n, void *user) {
  auto *b = static_cast<Buffer *>(user);
  auto to = static_cast<OPJ_OFF_T>(b->at) + n;
  if (to < 0)
    return -1;
  b->at = static_cast<size_t>(to);
  return n;
}
OPJ_BOOL seekBytes(OPJ_OFF_T to, void *user) {
  auto *b = static_cast<Buffer *>(user);
  if (to < 0)
    return OPJ_FALSE;
  b->at = static_cast<size_t>(to);
  return OPJ_TRUE;
}

opj_stream_t *memoryStream(Buffer &b, bool input) {
  opj_stream_t *s = opj_stream_create(1 << 16, input ? OPJ_TRUE : OPJ_FALSE);
  opj_stream_set_user_data(s, &b, nullptr);
  opj_stream_set_user_data_length(s, input ? b.in->size() : 0);
  if (input)
    opj_stream_set_read_function(s, readBytes);
  else
    opj_stream_set_write_function(s, writeBytes);
  opj_stream_set_skip_function(s, skipBytes);
  opj_stream_set_seek_function(s, seekBytes);
  return s;
}

// OpenJPEG reports problems through callbacks; the last error names the cause.
void keepError(const char *msg, void *user) {
  std::string &out = *static_cast<std::string *>(user);
  out = msg;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
}
void ignore(const char *, void *) {}

using Codec = std::unique_ptr<opj_codec_t, void (*)(opj_codec_t *)>;
using Stream = std::unique_ptr<opj_stream_t, void (*)(opj_stream_t *)>;
using OpjImage = std::unique_ptr<opj_image_t, void (*)(opj_image_t *)>;

} // namespace

Status decodeJpeg2000(const std::string &bytes, const std::string &name, Image &image) {
  static const unsigned char kJp2[] = {0, 0, 0, 0x0c, 'j', 'P', ' ', ' '};
  static const unsigned char kJ2k[] = {0xff, 0x4f, 0xff, 0x51};
  OPJ_CODEC_FORMAT format;
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kJp2, 8) == 0)
    format = OPJ_CODEC_JP2;
  else if (bytes.size() >= 4 && std::memcmp(bytes.data(), kJ2k, 4) == 0)
    format = OPJ_CODEC_J2K;
  else
    return Status::error(ErrorKind::InputMalformed, name + ": not a JPEG 2000 file (no JP2 or J2K signature)");
  Buffer in;
  in.in = &bytes;
  Codec codec(opj_create_decompress(format), opj_destroy_codec);
  Stream stream(memoryStream(in, true), opj_stream_destroy);
  std::string error = "corrupt codestream";
  opj_set_error_handler(codec.get(), keepError, &error);
  opj_set_warning_handler(codec.get(), ignore, nullptr);
  opj_set_info_handler(codec.get(), ignore, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  opj_image_t *raw = nullptr;
  if (!opj_setup_decoder(codec.get(), &params) || !opj_read_header(stream.get(), codec.get(), &raw))
    return Status::error(ErrorKind::InputMalformed, name + ": not a readable JPEG 2000 file: " + error);
  OpjImage img(raw, opj_image_destroy);
  // The header's size, before OpenJPEG allocates the decoded components.
  if (Status s = checkImageSize(name, uint64_t(raw->x1) - raw->x0, uint64_t(raw->y1) - raw->y0,
                                std::max<uint64_t>(1, raw->numcomps), 16);
      !s)
    return s;
  if (!opj_decode(codec.get(), stream.get(), img.get()) || !opj_end_decompress(codec.get(), stream.get()))
    return Status::error(ErrorKind::InputMalformed, name + ": not a readable JPEG 2000 file (truncated?): " + error);
  const opj_image_comp_t &c0 = img->comps[0];
  const int precision = static_cast<int>(c0.prec);
  if (precision < 1 || precision > 16)
    return Status::error(ErrorKind::InputUnsupported, name + ": " + std::to_string(precision) + "-bit JPEG 2000; expected up to 16 bits");
  for (OPJ_UINT32 c = 0; c < img->numcomps; ++c)
    if (img->comps[c].w != c0.w || img->comps[c].h != c0.h || img->comps[c].prec != c0.prec || !img->comps[c].data)
      return Status::error(ErrorKind::InputUnsupported, name + ": JPEG 2000 components differ in size or depth (subsampled colour?)");
  image.width = c0.w;
  image.height = c0.h;
  image.channels = img->numcomps;
  image.bits = precision <= 8 ? 8 : 16;
  const size_t pixels = static_cast<size_t>(image.width * image.height);
  image.data.assign(pixels * image.channels * (image.bits / 8), 0);
  const int top = (1 << image.bits) - 1;
  for (OPJ_UINT32 c = 0; c < img->numcomps; ++c)
    for (size_t i = 0; i < pixels; ++i) {
      int v = std::clamp<int>(img->comps[c].data[i], 0, top);
      size_t at = i * image.channels + c;
      if (image.bits == 8)
        image.data[at] = static_cast<uint8_t>(v);
      else
        reinterpret_cast<uint16_t *>(image.data.data())[at] = static_cast<uint16_t>(v);
    }
  return Status::ok();
}

Status encodeJpeg2000(const Image &image, std::string &bytes) {
  if (image.channels != 1 || (image.bits != 8 && image.bits != 16))
    return Status::error(ErrorKind::Internal, "JPEG 2000: encodes one 8- or 16-bit channel");
  opj_image_cmptparm_t comp{};
  comp.dx = comp.dy = 1;
  comp.w = static_cast<OPJ_UINT32>(image.width);
  comp.h = static_cast<OPJ_UINT32>(image.height);
  comp.prec = static_cast<OPJ_UINT32>(image.bits);
  comp.sgnd = 0;
  OpjImage img(opj_image_create(1, &comp, OPJ_CLRSPC_GRAY), opj_image_destroy);
  if (!img)
    return Status::error(ErrorKind::OutOfMemory, "JPEG 2000: cannot allocate the image");
  img->x1 = comp.w;
  img->y1 = comp.h;
  const size_t pixels = static_cast<size_t>(image.width * image.height);
  for (size_t i = 0; i < pixels; ++i)
    img->comps[0].data[i] = image.bits == 8 ? image.data[i] : reinterpret_cast<const uint16_t *>(image.data.data())[i];
  opj_cparameters_t params;
  opj_set_default_encoder_parameters(&params); // reversible 5/3 wavelet: lossless
  params.tcp_numlayers = 1;
  params.tcp_rates[0] = 0;
  params.cp_disto_alloc = 1;
  params.numresolution = std::min(6, static_cast<int>(std::log2(std::min(image.width, image.height))));
  Codec codec(opj_create_compress(OPJ_CODEC_JP2), opj_destroy_codec);
  std::string error = "encoding failed";
  opj_set_error_handler(codec.get(), keepError, &error);
  opj_set_warning_handler(codec.get(), ignore, nullptr);
  opj_set_info_handler(codec.get(), ignore, nullptr);
  bytes.clear();
  Buffer out;
  out.bytes = &bytes;
  Stream stream(memoryStream(out, false), opj_stream_destroy);
  if (!opj_setup_encoder(codec.get(), &params, img.get()) || !opj_start_compress(codec.get(), img.get(), stream.get()) ||
      !opj_encode(codec.get(), stream.get()) || !opj_end_compress(codec.get(), stream.get()))
    return Status::error(ErrorKind::OutputUnwritable, "JPEG 2000: " + error);
  bytes.resize(out.at);
  return Status::ok();
}

} // namespace exprt
#else
namespace exprt {

Status decodeJpeg2000(const std::string &, const std::string &name, Image &) {
  return missingFeature(BuildFeature::Jpeg2000, name);
}
Status encodeJpeg2000(const Image &, std::string &) { return missingFeature(BuildFeature::Jpeg2000, "a JPEG 2000 image"); }

} // namespace exprt
#endif
