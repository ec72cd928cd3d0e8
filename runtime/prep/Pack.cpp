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
        return Status::error(ErrorKind::InputUnreadable, f + ": missing (" +
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
    return Status::error(ErrorKind::InputMismatch, path + ": " + std::to_string(img.channels) + " channels; expected " +
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
  Status decoded = Status::error(ErrorKind::InputUnreadable, path + ": missing (no such member in " + archive + ")");
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
    return Status::error(ErrorKind::OutputUnwritable, path + ": " + what + ": " + std::strerror(errno));
  }
};

// Packing one dataset: the file's layout from the first image, then every
// site decoded (by worker threads, shard by shard for archive members) into
// its slot, then the per-channel statistics and the pixels' hash.
class Packer {
public:
  Packer(const SiteIndex &index, const PackOptions &o, const std::string &path)
      : index_(index), o_(o), n_(static_cast<int64_t>(index.size())), k_(index.channelsPerFile),
        C_(static_cast<int64_t>(index.files[0].size()) * index.channelsPerFile), S_(o.size) {
    file_.path = path;
  }
  Status run();

private:
  Status create();
  // Decodes file `fi` of site `s` (`decode` fills the planes) into its slot,
  // adding its statistics to a worker's sums; false once anything failed.
  bool store(int64_t s, size_t fi, const std::function<Status(torch::Tensor &, int &)> &decode,
             std::vector<double> &mySum, std::vector<double> &mySquares);
  void addStats(const std::vector<double> &mySum, const std::vector<double> &mySquares);
  void indexShards();
  void decodeShards(std::vector<double> &mySum, std::vector<double> &mySquares);
  void decodeSites(std::vector<double> &mySum, std::vector<double> &mySquares);
  Status firstError();
  Status finish();
  std::string channelOf(size_t fi) const {
    return k_ == 1 ? "channel " + std::to_string(fi + 1) + " of " : "";
  }

  const SiteIndex &index_;
  const PackOptions &o_;
  const int64_t n_, k_, C_, S_;
  int bits_ = 8;
  size_t es_ = 1, plane_ = 0, imageBytes_ = 0, statBytes_ = 0;
  std::string header_;                     // the safetensors header's text
  const std::string zeros_ = std::string(64, '0'); // the pixels' hash, filled in at the end
  PackFile file_;
  char *pixels_ = nullptr;
  std::vector<Status> errors_;
  std::vector<double> sum_, squares_;
  std::mutex statsMutex_;
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> next_{0};
  // Archive members (WebDataset shards): shard -> member -> the (site, file) slots it fills.
  std::map<std::string, std::unordered_map<std::string, std::vector<std::pair<int64_t, size_t>>>> shards_;
  std::vector<std::string> shardList_;
  std::vector<Status> shardErrors_;
  // char, not bool: workers mark different slots at once, and vector<bool>
  // packs neighbours into one word.
  std::vector<std::vector<char>> seen_;
};

// The first file decides the stored type (U8 for 8-bit sources, F16 for
// 16-bit), so the file's layout; it is created at its final size and mapped.
Status Packer::create() {
  torch::Tensor probe;
  if (Status st = decodeFile(index_.files[0][0], S_, k_, probe, bits_); !st)
    return st.reworded(st.message() + " (" + channelOf(0) + "the site at " + index_.where[0] + ")");
  es_ = bits_ == 8 ? 1 : 2;
  plane_ = static_cast<size_t>(S_ * S_);
  imageBytes_ = static_cast<size_t>(n_ * C_) * plane_ * es_;
  statBytes_ = 4 * C_;
  nlohmann::json header = {
      {"images",
       {{"dtype", bits_ == 8 ? "U8" : "F16"}, {"shape", {n_, C_, S_, S_}}, {"data_offsets", {0, imageBytes_}}}},
      {"mean", {{"dtype", "F32"}, {"shape", {C_}}, {"data_offsets", {imageBytes_, imageBytes_ + statBytes_}}}},
      {"std",
       {{"dtype", "F32"},
        {"shape", {C_}},
        {"data_offsets", {imageBytes_ + statBytes_, imageBytes_ + 2 * statBytes_}}}},
      {"__metadata__", {{"format", kPackFormat}, {"sha256", zeros_}, {"sites", std::to_string(n_)}}}};
  header_ = header.dump();
  header_.append((8 - header_.size() % 8) % 8, ' ');
  PackFile &f = file_;
  f.size = 8 + header_.size() + imageBytes_ + 2 * statBytes_;
  f.fd = ::open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd < 0)
    return Status::error(ErrorKind::OutputUnwritable, f.path + ": cannot create: " + std::strerror(errno));
  if (::ftruncate(f.fd, static_cast<off_t>(f.size)) != 0)
    return f.fail("cannot size the packed file");
  void *at = ::mmap(nullptr, f.size, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
  if (at == MAP_FAILED)
    return f.fail("cannot map the packed file");
  f.base = static_cast<char *>(at);
  for (int i = 0; i < 8; ++i)
    f.base[i] = static_cast<char>((uint64_t(header_.size()) >> (8 * i)) & 0xff);
  std::memcpy(f.base + 8, header_.data(), header_.size());
  pixels_ = f.base + 8 + header_.size();
  return Status::ok();
}

bool Packer::store(int64_t s, size_t fi, const std::function<Status(torch::Tensor &, int &)> &decode,
                   std::vector<double> &mySum, std::vector<double> &mySquares) {
  torch::Tensor planes;
  int fileBits = 8;
  Status st = Status::ok();
  try { // a worker's exception would end the process
    st = decode(planes, fileBits);
    if (st && fileBits != bits_)
      st = Status::error(ErrorKind::InputMismatch, index_.files[s][fi] + ": " + std::to_string(fileBits) +
                         "-bit, but the dataset's first image is " + std::to_string(bits_) +
                         "-bit; a dataset packs one bit depth");
  } catch (const std::exception &e) {
    st = Status::error(ErrorKind::InputMalformed, index_.files[s][fi] + ": cannot decode: " + e.what());
  }
  if (!st) {
    errors_[s] = st.reworded(st.message() + " (" + channelOf(fi) + "the site at " + index_.where[s] + ")");
    failed_ = true;
    return false;
  }
  // Stored as U8 (x 255, rounded) or F16; statistics of what is stored.
  torch::Tensor stored = bits_ == 8 ? planes.mul(255.0).round_().to(torch::kUInt8) : planes.to(torch::kFloat16);
  torch::Tensor unit = bits_ == 8 ? stored.to(torch::kFloat64).div_(255.0) : stored.to(torch::kFloat64);
  torch::Tensor ps = unit.sum({1, 2}), pq = unit.square().sum({1, 2});
  const int64_t c0 = static_cast<int64_t>(fi) * k_;
  for (int64_t c = 0; c < k_; ++c) {
    mySum[c0 + c] += ps[c].item<double>();
    mySquares[c0 + c] += pq[c].item<double>();
  }
  std::memcpy(pixels_ + (static_cast<size_t>(s * C_ + c0) * plane_) * es_, stored.data_ptr(),
              static_cast<size_t>(k_) * plane_ * es_);
  return !failed_;
}

void Packer::addStats(const std::vector<double> &mySum, const std::vector<double> &mySquares) {
  std::lock_guard<std::mutex> lock(statsMutex_);
  for (int64_t c = 0; c < C_; ++c) {
    sum_[c] += mySum[c];
    squares_[c] += mySquares[c];
  }
}

// Archive members are read shard by shard, each once, in stored order;
// plain files site by site.
void Packer::indexShards() {
  for (int64_t s = 0; s < n_; ++s)
    for (size_t fi = 0; fi < index_.files[s].size(); ++fi) {
      const std::string &f = index_.files[s][fi];
      if (size_t sep = f.find(kMemberSeparator); sep != std::string::npos)
        shards_[f.substr(0, sep)][f.substr(sep + 2)].push_back({s, fi});
    }
  for (const auto &[shard, members] : shards_)
    shardList_.push_back(shard);
  shardErrors_.assign(shardList_.size(), Status::ok());
  seen_.resize(static_cast<size_t>(n_));
  for (int64_t s = 0; s < n_; ++s)
    seen_[s].assign(index_.files[s].size(), false);
}

void Packer::decodeShards(std::vector<double> &mySum, std::vector<double> &mySquares) {
  for (int64_t i; (i = next_++) < static_cast<int64_t>(shardList_.size()) && !failed_;) {
    const auto &members = shards_.at(shardList_[i]);
    shardErrors_[i] = readArchive(shardList_[i], [&](const std::string &name, const std::string &bytes) {
      auto it = members.find(name);
      if (it == members.end())
        return true;
      for (auto [s, fi] : it->second) {
        seen_[s][fi] = true;
        auto decode = [&, s = s, fi = fi](torch::Tensor &planes, int &fileBits) {
          Image img;
          if (Status st = decodeImage(bytes, index_.files[s][fi], img); !st)
            return st;
          return fitImage(img, index_.files[s][fi], S_, k_, planes, fileBits);
        };
        if (!store(s, fi, decode, mySum, mySquares))
          return false;
      }
      return true;
    });
    if (!shardErrors_[i])
      failed_ = true;
  }
}

void Packer::decodeSites(std::vector<double> &mySum, std::vector<double> &mySquares) {
  for (int64_t s; (s = next_++) < n_ && !failed_;)
    for (size_t fi = 0; fi < index_.files[s].size(); ++fi) {
      auto decode = [&](torch::Tensor &planes, int &fileBits) {
        return decodeFile(index_.files[s][fi], S_, k_, planes, fileBits);
      };
      if (!store(s, fi, decode, mySum, mySquares))
        break;
    }
}

// A shard's error, a member no shard held, or the first site's failure in
// site order; ok when every site was stored.
Status Packer::firstError() {
  for (const Status &e : shardErrors_)
    if (!e)
      return e;
  if (!shardList_.empty() && !failed_)
    for (int64_t s = 0; s < n_; ++s)
      for (size_t fi = 0; fi < seen_[s].size(); ++fi)
        if (!seen_[s][fi]) {
          const std::string &f = index_.files[s][fi];
          return Status::error(ErrorKind::InputUnreadable, f.substr(0, f.find(kMemberSeparator)) + ": no member `" +
                               f.substr(f.find(kMemberSeparator) + 2) + "` (" + channelOf(fi) + "the site at " +
                               index_.where[s] + ")");
        }
  for (const Status &e : errors_)
    if (!e)
      return e;
  return Status::ok();
}

// The statistics and the pixels' hash, then the file synced to disk.
Status Packer::finish() {
  const double count = double(n_) * double(plane_);
  std::vector<float> mean(C_), std(C_);
  for (int64_t c = 0; c < C_; ++c) {
    double m = sum_[c] / count;
    mean[c] = static_cast<float>(m);
    std[c] = static_cast<float>(std::max(1e-6, std::sqrt(std::max(0.0, squares_[c] / count - m * m))));
  }
  std::memcpy(pixels_ + imageBytes_, mean.data(), statBytes_);
  std::memcpy(pixels_ + imageBytes_ + statBytes_, std.data(), statBytes_);
  const std::string sha256 = Sha256().update(pixels_, imageBytes_).hex();
  std::memcpy(file_.base + 8 + header_.find(zeros_), sha256.data(), zeros_.size());
  if (::msync(file_.base, file_.size, MS_SYNC) != 0 || ::fsync(file_.fd) != 0)
    return file_.fail("cannot write the packed file");
  return Status::ok();
}

Status Packer::run() {
  if (Status s = create(); !s)
    return s;
  errors_.assign(static_cast<size_t>(n_), Status::ok());
  sum_.assign(C_, 0.0);
  squares_.assign(C_, 0.0);
  indexShards();
  runWorkers(o_.threads, [&] {
    torch::NoGradGuard noGrad;
    std::vector<double> mySum(C_, 0.0), mySquares(C_, 0.0);
    if (!shardList_.empty())
      decodeShards(mySum, mySquares);
    else
      decodeSites(mySum, mySquares);
    addStats(mySum, mySquares);
  });
  if (Status e = firstError(); !e) {
    ::unlink(file_.path.c_str());
    return e;
  }
  return finish();
}

Status decodeInto(const SiteIndex &index, const PackOptions &o, const std::string &path) {
  return Packer(index, o, path).run();
}

// Maps the packed file at `path` into `packed`: its images, statistics and
// pixels' hash, checked to hold `sites` sites.
Status adopt(const std::string &path, size_t sites, PackedImages &packed) {
  SafeTensors st;
  if (Status s = mapSafeTensors(path, st); !s)
    return s;
  if (!st.tensors.count("images") || !st.tensors.count("mean") || !st.tensors.count("std") ||
      !st.metadata.count("sha256") || st.tensors["images"].size(0) != static_cast<int64_t>(sites))
    return Status::error(ErrorKind::InputMalformed, path + ": not a packed image file of " + std::to_string(sites) + " sites");
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
    return Status::error(ErrorKind::InputMismatch, "no sites to pack");
  const size_t files = index.files[0].size();
  for (size_t s = 0; s < index.size(); ++s)
    if (index.files[s].size() != files)
      return Status::error(ErrorKind::InputMismatch, index.where[s] + ": " + std::to_string(index.files[s].size()) +
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
      return Status::error(ErrorKind::OutputUnwritable, file.string() + ": cannot rename into place: " + ec.message());
    }
  }
  Status s = adopt(file.empty() ? tmp : file.string(), index.size(), packed);
  if (file.empty())
    ::unlink(tmp.c_str());
  return s;
}

} // namespace exprt
