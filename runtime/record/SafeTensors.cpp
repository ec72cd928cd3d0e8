#include "record/SafeTensors.h"

#include "record/Json.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace exprt {
namespace {

using nlohmann::json;

// The header limit the reference implementation uses (100 MB).
constexpr uint64_t kMaxHeader = 100'000'000;

const std::pair<const char *, torch::ScalarType> kDtypes[] = {
    {"F32", torch::kFloat32}, {"F64", torch::kFloat64}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64}, {"I32", torch::kInt32},
    {"I16", torch::kInt16}, {"I8", torch::kInt8}, {"U8", torch::kUInt8}, {"BOOL", torch::kBool}};

const char *dtypeName(torch::ScalarType t) {
  for (auto [name, type] : kDtypes)
    if (type == t)
      return name;
  return nullptr;
}

} // namespace

Status encodeSafeTensors(const std::string &path, const SafeTensors &file, std::string &bytes) {
  json header = json::object();
  std::string data;
  for (const auto &[name, t] : file.tensors) {
    const char *dtype = dtypeName(t.scalar_type());
    if (!dtype)
      return Status::error(ErrorKind::Internal, path + ": tensor `" + name + "` has a dtype safetensors cannot hold");
    torch::Tensor c = t.detach().contiguous().cpu();
    size_t begin = data.size(), size = c.numel() * c.element_size();
    data.append(static_cast<const char *>(c.data_ptr()), size);
    header[name] = {{"dtype", dtype}, {"shape", c.sizes().vec()}, {"data_offsets", {begin, begin + size}}};
  }
  if (!file.metadata.empty())
    header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' '); // align the data to 8 bytes
  uint64_t n = text.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  bytes = out + text + data;
  return Status::ok();
}

Status writeSafeTensors(const std::string &path, const SafeTensors &file) {
  std::string bytes;
  if (Status s = encodeSafeTensors(path, file, bytes); !s)
    return s;
  return writeFileAtomic(path, bytes);
}

Status readSafeTensors(const std::string &path, SafeTensors &file) {
  std::string bytes;
  if (!readFile(path, bytes))
    return Status::error(ErrorKind::InputUnreadable, path + ": cannot open");
  return decodeSafeTensors(path, bytes, file);
}

namespace {

// Builds a tensor of `shape` and `type` over `size` bytes at `data`.
using MakeTensor = std::function<torch::Tensor(const char *data, size_t size,
                                               const std::vector<int64_t> &shape,
                                               torch::ScalarType type)>;

Status decode(const std::string &path, std::string_view bytes, SafeTensors &file,
              const MakeTensor &make) {
  file = SafeTensors();
  auto bad = [&](const std::string &what) {
    return Status::error(ErrorKind::InputMalformed, path + ": not a valid safetensors file: " + what);
  };
  if (bytes.size() < 8)
    return bad("shorter than its 8-byte header length (truncated?)");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > kMaxHeader || n > bytes.size() - 8)
    return bad("header length " + std::to_string(n) + " exceeds the file (" +
               std::to_string(bytes.size()) + " bytes; truncated?)");
  json header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + n, nullptr, false);
  if (header.is_discarded() || !header.is_object())
    return bad("the header is not a JSON object");
  const size_t dataSize = bytes.size() - 8 - n;
  const char *data = bytes.data() + 8 + n;
  size_t covered = 0;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const json &h = it.value();
    if (it.key() == "__metadata__") {
      if (!h.is_object())
        return bad("`__metadata__` is not an object");
      for (auto m = h.begin(); m != h.end(); ++m) {
        if (!m.value().is_string())
          return bad("metadata `" + m.key() + "` is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    std::string where = "tensor `" + it.key() + "`";
    if (!h.is_object() || !h.contains("dtype") || !h.contains("shape") ||
        !h.contains("data_offsets") || !h["dtype"].is_string() || !h["shape"].is_array() ||
        !h["data_offsets"].is_array() || h["data_offsets"].size() != 2)
      return bad(where + " needs `dtype`, `shape` and two `data_offsets`");
    std::optional<torch::ScalarType> type;
    for (auto [name, t] : kDtypes)
      if (h["dtype"] == name)
        type = t;
    if (!type)
      return bad(where + " has unknown dtype " + h["dtype"].dump());
    std::vector<int64_t> shape;
    uint64_t count = 1;
    const bool none = std::any_of(h["shape"].begin(), h["shape"].end(), [](const json &d) { return d == 0; });
    for (const json &d : h["shape"]) {
      if (!d.is_number_unsigned())
        return bad(where + " has a bad shape " + h["shape"].dump());
      const uint64_t extent = d.get<uint64_t>();
      // Its bytes must fit the file, so a count past the file's size (or one
      // that would overflow) is refused before it wraps around.
      if (extent > uint64_t(INT64_MAX) || (!none && extent > 0 && count > (dataSize + 1) / extent))
        return bad(where + " has a shape " + h["shape"].dump() + " larger than the file's " +
                   std::to_string(dataSize) + " data bytes could hold");
      shape.push_back(static_cast<int64_t>(extent));
      count *= extent;
    }
    const json &off = h["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return bad(where + " has bad data offsets");
    uint64_t begin = off[0], end = off[1];
    uint64_t size = count * torch::elementSize(*type);
    if (begin > end || end > dataSize || end - begin != size)
      return bad(where + " has data offsets [" + std::to_string(begin) + ", " +
                 std::to_string(end) + ") that do not hold its " + std::to_string(size) +
                 " bytes within the file's " + std::to_string(dataSize) + " (truncated?)");
    covered += size;
    file.tensors[it.key()] = make(data + begin, size, shape, *type);
  }
  if (covered != dataSize)
    return bad("its tensors cover " + std::to_string(covered) + " of " + std::to_string(dataSize) +
               " data bytes (overlapping or trailing data)");
  return Status::ok();
}

} // namespace

Status decodeSafeTensors(const std::string &path, const std::string &bytes, SafeTensors &file) {
  return decode(path, bytes, file,
                [](const char *data, size_t size, const std::vector<int64_t> &shape,
                   torch::ScalarType type) {
                  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(type));
                  if (size > 0) // an empty tensor's data_ptr() is null (checkpoints hold some)
                    std::memcpy(t.data_ptr(), data, size);
                  return t;
                });
}

Status mapSafeTensors(const std::string &path, SafeTensors &file) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(ErrorKind::InputUnreadable, path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size == 0) {
    ::close(fd);
    return Status::error(ErrorKind::InputMalformed, path + ": not a valid safetensors file: empty");
  }
  const size_t n = static_cast<size_t>(st.st_size);
  void *at = ::mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (at == MAP_FAILED)
    return Status::error(ErrorKind::InputUnreadable, path + ": cannot map: " + std::strerror(errno));
  // The mapping lives as long as any tensor viewing it.
  auto mapping = std::shared_ptr<void>(at, [n](void *p) { ::munmap(p, n); });
  return decode(path, std::string_view(static_cast<const char *>(at), n), file,
                [mapping](const char *data, size_t, const std::vector<int64_t> &shape,
                          torch::ScalarType type) {
                  auto keep = new std::shared_ptr<void>(mapping);
                  return torch::from_blob(const_cast<char *>(data), shape,
                                          [keep](void *) { delete keep; },
                                          torch::TensorOptions().dtype(type));
                });
}

} // namespace exprt
