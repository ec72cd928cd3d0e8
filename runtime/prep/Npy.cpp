#include "prep/Npy.h"

#include "prep/Archive.h"

#include <torch/torch.h>

#include <charconv>

#include <cstring>
#include <regex>

namespace exprt {

Status decodeNpy(const std::string &where, const std::string &bytes, torch::Tensor &out) {
  auto bad = [&](const std::string &what) { return Status::error(ErrorKind::InputMalformed, where + ": not a readable .npy: " + what); };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return bad("no NumPy magic");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t headerLen = 0, start = 0;
  if (major == 1) {
    headerLen = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return bad("truncated header");
    for (int i = 0; i < 4; ++i)
      headerLen |= size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    start = 12;
  } else {
    return bad("format version " + std::to_string(major));
  }
  if (start + headerLen > bytes.size())
    return bad("truncated header");
  const std::string header = bytes.substr(start, headerLen);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'")))
    return bad("no dtype in the header");
  const std::string descr = m[1];
  if (std::regex_search(header, std::regex("'fortran_order':\\s*True")))
    return bad("Fortran-ordered arrays are not supported; save it with np.ascontiguousarray");
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)")))
    return bad("no shape in the header");
  std::vector<int64_t> shape;
  std::string dims = m[1];
  static const std::regex digits("\\d+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), digits), end; it != end; ++it) {
    const std::string digitsText = it->str();
    int64_t d = 0;
    if (std::from_chars(digitsText.data(), digitsText.data() + digitsText.size(), d).ec != std::errc())
      return bad("its shape has a dimension too large (" + digitsText.substr(0, 24) + ")");
    shape.push_back(d);
  }
  struct Kind {
    const char *descr;
    torch::ScalarType type;
    size_t size;
  };
  static const Kind kinds[] = {{"|b1", torch::kBool, 1},    {"|u1", torch::kUInt8, 1},
                               {"|i1", torch::kInt8, 1},    {"<u2", torch::kInt32, 2},
                               {"<i2", torch::kInt16, 2},   {"<i4", torch::kInt32, 4},
                               {"<i8", torch::kInt64, 8},   {"<f2", torch::kFloat16, 2},
                               {"<f4", torch::kFloat32, 4}, {"<f8", torch::kFloat64, 8}};
  const Kind *kind = nullptr;
  for (const Kind &k : kinds)
    if (descr == k.descr)
      kind = &k;
  if (!kind)
    return bad("dtype `" + descr + "` is not supported (expected a little-endian integer, float or bool)");
  int64_t count = 1;
  int64_t bytesNeeded = 0; // count times the widest dtype, so `need` below cannot overflow
  for (int64_t d : shape)
    if (__builtin_mul_overflow(count, d, &count) || __builtin_mul_overflow(count, int64_t(8), &bytesNeeded))
      return bad("its shape has more elements than a file can hold");
  const size_t need = static_cast<size_t>(count) * kind->size, data = start + headerLen;
  if (bytes.size() - data != need)
    return bad("holds " + std::to_string(bytes.size() - data) + " data bytes; its shape and dtype need " +
               std::to_string(need) + " (truncated?)");
  out = torch::empty(shape, kind->type);
  if (descr == "<u2") { // no uint16 in torch 1.13: widen
    // The data need not be 2-byte aligned (its offset is the header's
    // length): each sample is copied out rather than read in place.
    const char *src = bytes.data() + data;
    int32_t *dst = out.data_ptr<int32_t>();
    for (int64_t i = 0; i < count; ++i) {
      uint16_t v;
      std::memcpy(&v, src + 2 * i, sizeof v);
      dst[i] = v;
    }
  } else {
    if (need) // an empty array's tensor may have no storage
      std::memcpy(out.data_ptr(), bytes.data() + data, need);
  }
  return Status::ok();
}

Status readNpz(const std::string &path, const std::string &key, torch::Tensor &out) {
  Status decoded = Status::error(ErrorKind::InputMismatch, path + ": no array `" + key + "`");
  if (Status s = readArchive(path,
                             [&](const std::string &name, const std::string &bytes) {
                               if (name != key + ".npy")
                                 return true;
                               decoded = decodeNpy(path + ":" + name, bytes, out);
                               return false;
                             });
      !s)
    return s;
  return decoded;
}

} // namespace exprt
