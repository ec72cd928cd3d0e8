#include "prep/Pack.h"

#include "prep/Archive.h"
#include "prep/Image.h"
#include "prep/Workers.h"
#include "record/SafeTensors.h"
#include "record/Sha256.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sys/stat.h>

namespace exprt {
namespace fs = std::filesystem;
namespace {

constexpr const char *kPackFormat = "exp-pack/1";

// The key of the inputs: every file's path, size and modification time (as
// make and DVC judge change), with the preprocessing.
Status inputsKey(const SiteIndex &index, const PackOptions &o, std::string &key) {
  Sha256 h;
  h.update(std::string(kPackFormat));
  h.update(std::to_string(o.size) + "/" + std::to_string(index.channelsPerFile));
  for (size_t s = 0; s < index.size(); ++s)
    for (size_t c = 0; c < index.files[s].size(); ++c) {
      const std::string &f = index.files[s][c];
      const std::string onDisk = f.substr(0, f.find(kMemberSeparator)); // an archive member: its archive
      struct stat st;
      if (::stat(onDisk.c_str(), &st) != 0)
        return Status::error(f + ": missing (" +
                             (index.channelsPerFile == 1 ? "channel " + std::to_string(c + 1) + " of " : "") +
                             "the site at " + index.where[s] + ")");
      h.update(f);
      h.update(std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec));
    }
  key = h.hex();
  return Status::ok();
}

// One decoded image as [k, size, size] float32 in [0, 1] (k: its channels,
// `expected` of them): the centred square, resized (area averaging when
// shrinking, bilinear when enlarging).
Status fitImage(const Image &img, const std::string &path, int64_t size, int64_t expected, torch::Tensor &out,
                int &bits) {
  if (img.channels != expected)
    return Status::error(path + ": " + std::to_string(img.channels) + " channels; expected " +
                         std::to_string(expected) + (expected == 1 ? " (one channel per file)" : ""));
  bits = img.bits;
  torch::Tensor t = img.toTensor(); // [k, H, W]
  int64_t side = std::min(img.height, img.width);
  t = t.narrow(1, (img.height - side) / 2, side).narrow(2, (img.width - side) / 2, side);
  if (side != size) {
    namespace F = torch::nn::functional;
    auto opts = F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size});
    t = side > size ? F::interpolate(t.unsqueeze(0), opts.mode(torch::kArea))
                    : F::interpolate(t.unsqueeze(0), opts.mode(torch::kBilinear).align_corners(false));
    t = t.squeeze(0);
  }
  out = t.clamp(0, 1);
  return Status::ok();
}

// The same from a file, or from an archive member ("ARCHIVE!/MEMBER",
// found by reading the archive up to it).
Status decodeFile(const std::string &path, int64_t size, int64_t expected, torch::Tensor &out, int &bits) {
  Image img;
  const size_t sep = path.find(kMemberSeparator);
  if (sep == std::string::npos) {
    if (Status s = readImage(path, img); !s)
      return s;
    return fitImage(img, path, size, expected, out, bits);
  }
  const std::string archive = path.substr(0, sep), member = path.substr(sep + 2);
  Status decoded = Status::error(path + ": missing (no such member in " + archive + ")");
  Status read = readArchive(archive, [&](const std::string &name, const std::string &bytes) {
    if (name != member)
      return true;
    decoded = decodeImage(bytes, path, img);
    return false;
  });
  if (!read)
    return read;
  if (!decoded)
    return decoded;
  return fitImage(img, path, size, expected, out, bits);
}

// The packed file under construction: a safetensors file of its final
// size, mapped writable, that sites are decoded straight into, so packing
// needs memory for the decoding threads only, never for the dataset.
struct PackFile {
  std::string path;
  int fd = -1;
  char *base = nullptr;
  size_t size = 0;
  ~PackFile() {
    if (base)
      ::munmap(base, size);
    if (fd >= 0)
      ::close(fd);
  }
  Status fail(const std::string &what) {
    ::unlink(path.c_str());
    return Status::error(path + ": " + what + ": " + std::strerror(errno));
  }
};

Status decodeInto(const SiteIndex &index, const PackOptions &o, const std::string &path) {
  const int64_t n = static_cast<int64_t>(index.size()), k = index.channelsPerFile,
                C = static_cast<int64_t>(index.files[0].size()) * k, S = o.size;
  // The first file decides the stored type: U8 for 8-bit sources, F16 for 16-bit.
  torch::Tensor probe;
  int bits = 8;
  if (Status st = decodeFile(index.files[0][0], S, k, probe, bits); !st)
    return Status::error(st.message() + " (" + (k == 1 ? "channel 1 of " : "") + "the site at " +
                         index.where[0] + ")");
  const size_t es = bits == 8 ? 1 : 2, plane = static_cast<size_t>(S * S);
  const size_t imageBytes = static_cast<size_t>(n * C) * plane * es, statBytes = 4 * C;
  const std::string zeros(64, '0'); // the pixels' hash, filled in at the end
  nlohmann::json header = {
      {"images", {{"dtype", bits == 8 ? "U8" : "F16"}, {"shape", {n, C, S, S}}, {"data_offsets", {0, imageBytes}}}},
      {"mean", {{"dtype", "F32"}, {"shape", {C}}, {"data_offsets", {imageBytes, imageBytes + statBytes}}}},
      {"std", {{"dtype", "F32"}, {"shape", {C}}, {"data_offsets", {imageBytes + statBytes, imageBytes + 2 * statBytes}}}},
      {"__metadata__", {{"format", kPackFormat}, {"sha256", zeros}, {"sites", std::to_string(n)}}}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  PackFile f;
  f.path = path;
  f.size = 8 + text.size() + imageBytes + 2 * statBytes;
  f.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd < 0)
    return Status::error(path + ": cannot create: " + std::strerror(errno));
  if (::ftruncate(f.fd, static_cast<off_t>(f.size)) != 0)
    return f.fail("cannot size the packed file");
  void *at = ::mmap(nullptr, f.size, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
  if (at == MAP_FAILED)
    return f.fail("cannot map the packed file");
  f.base = static_cast<char *>(at);
  for (int i = 0; i < 8; ++i)
    f.base[i] = static_cast<char>((uint64_t(text.size()) >> (8 * i)) & 0xff);
  std::memcpy(f.base + 8, text.data(), text.size());
  char *pixels = f.base + 8 + text.size();

  std::vector<Status> errors(static_cast<size_t>(n), Status::ok());
  std::vector<double> sum(C, 0.0), squares(C, 0.0);
  std::mutex statsMutex;
  std::atomic<bool> failed{false};
  std::atomic<int64_t> next{0};
  // Decodes file `fi` of site `s` (`decode` fills the planes) into its slot,
  // adding its statistics to a worker's sums; false once anything failed.
  auto store = [&](int64_t s, size_t fi, const std::function<Status(torch::Tensor &, int &)> &decode,
                   std::vector<double> &mySum, std::vector<double> &mySquares) {
    torch::Tensor planes;
    int fileBits = 8;
    Status st = Status::ok();
    try { // a worker's exception would end the process
      st = decode(planes, fileBits);
      if (st && fileBits != bits)
        st = Status::error(index.files[s][fi] + ": " + std::to_string(fileBits) +
                           "-bit, but the dataset's first image is " + std::to_string(bits) +
                           "-bit; a dataset packs one bit depth");
    } catch (const std::exception &e) {
      st = Status::error(index.files[s][fi] + ": cannot decode: " + e.what());
    }
    if (!st) {
      errors[s] = Status::error(st.message() + " (" + (k == 1 ? "channel " + std::to_string(fi + 1) + " of " : "") +
                                "the site at " + index.where[s] + ")");
      failed = true;
      return false;
    }
    // Stored as U8 (x 255, rounded) or F16; statistics of what is stored.
    torch::Tensor stored = bits == 8 ? planes.mul(255.0).round_().to(torch::kUInt8) : planes.to(torch::kFloat16);
    torch::Tensor unit = bits == 8 ? stored.to(torch::kFloat64).div_(255.0) : stored.to(torch::kFloat64);
    torch::Tensor ps = unit.sum({1, 2}), pq = unit.square().sum({1, 2});
    const int64_t c0 = static_cast<int64_t>(fi) * k;
    for (int64_t c = 0; c < k; ++c) {
      mySum[c0 + c] += ps[c].item<double>();
      mySquares[c0 + c] += pq[c].item<double>();
    }
    std::memcpy(pixels + (static_cast<size_t>(s * C + c0) * plane) * es, stored.data_ptr(),
                static_cast<size_t>(k) * plane * es);
    return !failed;
  };
  auto addStats = [&](const std::vector<double> &mySum, const std::vector<double> &mySquares) {
    std::lock_guard<std::mutex> lock(statsMutex);
    for (int64_t c = 0; c < C; ++c) {
      sum[c] += mySum[c];
      squares[c] += mySquares[c];
    }
  };
  // Archive members (WebDataset shards) are read shard by shard, each once,
  // in stored order; plain files site by site.
  std::map<std::string, std::unordered_map<std::string, std::vector<std::pair<int64_t, size_t>>>> shards;
  for (int64_t s = 0; s < n; ++s)
    for (size_t fi = 0; fi < index.files[s].size(); ++fi) {
      const std::string &f = index.files[s][fi];
      if (size_t sep = f.find(kMemberSeparator); sep != std::string::npos)
        shards[f.substr(0, sep)][f.substr(sep + 2)].push_back({s, fi});
    }
  std::vector<std::string> shardList;
  for (const auto &[shard, members] : shards)
    shardList.push_back(shard);
  std::vector<Status> shardErrors(shardList.size(), Status::ok());
  // char, not bool: workers mark different slots at once, and vector<bool>
  // packs neighbours into one word.
  std::vector<std::vector<char>> seen(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; ++s)
    seen[s].assign(index.files[s].size(), false);
  auto work = [&] {
    torch::NoGradGuard noGrad;
    std::vector<double> mySum(C, 0.0), mySquares(C, 0.0);
    if (!shardList.empty()) {
      for (int64_t i; (i = next++) < static_cast<int64_t>(shardList.size()) && !failed;) {
        const auto &members = shards.at(shardList[i]);
        shardErrors[i] = readArchive(shardList[i], [&](const std::string &name, const std::string &bytes) {
          auto it = members.find(name);
          if (it == members.end())
            return true;
          for (auto [s, fi] : it->second) {
            seen[s][fi] = true;
            auto decode = [&](torch::Tensor &planes, int &fileBits) {
              Image img;
              if (Status st = decodeImage(bytes, index.files[s][fi], img); !st)
                return st;
              return fitImage(img, index.files[s][fi], S, k, planes, fileBits);
            };
            if (!store(s, fi, decode, mySum, mySquares))
              return false;
          }
          return true;
        });
        if (!shardErrors[i])
          failed = true;
      }
    } else {
      for (int64_t s; (s = next++) < n && !failed;)
        for (size_t fi = 0; fi < index.files[s].size(); ++fi) {
          auto decode = [&](torch::Tensor &planes, int &fileBits) {
            return decodeFile(index.files[s][fi], S, k, planes, fileBits);
          };
          if (!store(s, fi, decode, mySum, mySquares))
            break;
        }
    }
    addStats(mySum, mySquares);
  };
  runWorkers(o.threads, work);
  for (const Status &e : shardErrors)
    if (!e) {
      ::unlink(path.c_str());
      return e;
    }
  if (!shardList.empty() && !failed)
    for (int64_t s = 0; s < n; ++s)
      for (size_t fi = 0; fi < seen[s].size(); ++fi)
        if (!seen[s][fi]) {
          const std::string &f = index.files[s][fi];
          ::unlink(path.c_str());
          return Status::error(f.substr(0, f.find(kMemberSeparator)) + ": no member `" +
                               f.substr(f.find(kMemberSeparator) + 2) + "` (" +
                               (k == 1 ? "channel " + std::to_string(fi + 1) + " of " : "") + "the site at " +
                               index.where[s] + ")");
        }
  for (const Status &e : errors) // the first failure in site order
    if (!e) {
      ::unlink(path.c_str());
      return e;
    }
  const double count = double(n) * double(plane);
  std::vector<float> mean(C), std(C);
  for (int64_t c = 0; c < C; ++c) {
    double m = sum[c] / count;
    mean[c] = static_cast<float>(m);
    std[c] = static_cast<float>(std::max(1e-6, std::sqrt(std::max(0.0, squares[c] / count - m * m))));
  }
  std::memcpy(pixels + imageBytes, mean.data(), statBytes);
  std::memcpy(pixels + imageBytes + statBytes, std.data(), statBytes);
  const std::string sha256 = Sha256().update(pixels, imageBytes).hex();
  std::memcpy(f.base + 8 + text.find(zeros), sha256.data(), zeros.size());
  if (::msync(f.base, f.size, MS_SYNC) != 0 || ::fsync(f.fd) != 0)
    return f.fail("cannot write the packed file");
  return Status::ok();
}

// Maps the packed file at `path` into `packed`: its images, statistics and
// pixels' hash, checked to hold `sites` sites.
Status adopt(const std::string &path, size_t sites, PackedImages &packed) {
  SafeTensors st;
  if (Status s = mapSafeTensors(path, st); !s)
    return s;
  if (!st.tensors.count("images") || !st.tensors.count("mean") || !st.tensors.count("std") ||
      !st.metadata.count("sha256") || st.tensors["images"].size(0) != static_cast<int64_t>(sites))
    return Status::error(path + ": not a packed image file of " + std::to_string(sites) + " sites");
  packed.images = st.tensors["images"];
  packed.mean = st.tensors["mean"];
  packed.std = st.tensors["std"];
  packed.sha256 = st.metadata["sha256"];
  return Status::ok();
}

} // namespace

Status packImages(const SiteIndex &index, const PackOptions &o, PackedImages &packed) {
  packed = PackedImages();
  if (index.size() == 0)
    return Status::error("no sites to pack");
  const size_t files = index.files[0].size();
  for (size_t s = 0; s < index.size(); ++s)
    if (index.files[s].size() != files)
      return Status::error(index.where[s] + ": " + std::to_string(index.files[s].size()) +
                           " image files; the first site has " + std::to_string(files));
  if (Status s = inputsKey(index, o, packed.key); !s)
    return s;
  fs::path file = o.cacheDir.empty() ? fs::path() : fs::path(o.cacheDir) / (packed.key + ".safetensors");
  if (!file.empty() && fs::exists(file)) {
    // A damaged entry is decoded again, not trusted.
    if (adopt(file.string(), index.size(), packed)) {
      packed.reused = true;
      return Status::ok();
    }
  }
  if (o.progress)
    std::fprintf(stderr, "data: decoding %zu sites x %zu channels into %lldx%lld\n", index.size(),
                 files * index.channelsPerFile,
                 (long long)o.size, (long long)o.size);
  // Decoded into a temporary file, then renamed into the cache (a failure
  // leaves no entry); without a cache, into an unnamed temporary that lives
  // as long as its mapping.
  std::string tmp;
  std::error_code ec;
  if (file.empty()) {
    tmp = (fs::temp_directory_path() / ("exp-pack-" + packed.key.substr(0, 16) + "-" +
                                        std::to_string(::getpid()) + ".safetensors"))
              .string();
  } else {
    fs::create_directories(file.parent_path(), ec);
    tmp = file.string() + ".tmp-" + std::to_string(::getpid());
  }
  if (Status s = decodeInto(index, o, tmp); !s)
    return s;
  if (!file.empty()) {
    fs::rename(tmp, file, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return Status::error(file.string() + ": cannot rename into place: " + ec.message());
    }
  }
  Status s = adopt(file.empty() ? tmp : file.string(), index.size(), packed);
  if (file.empty())
    ::unlink(tmp.c_str());
  return s;
}

} // namespace exprt
