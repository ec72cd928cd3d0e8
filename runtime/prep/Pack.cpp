#include "prep/Pack.h"

#include "prep/Image.h"
#include "prep/Workers.h"
#include "record/SafeTensors.h"
#include "record/Sha256.h"

#include <torch/torch.h>

#include <atomic>
#include <filesystem>

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
      struct stat st;
      if (::stat(f.c_str(), &st) != 0)
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

// One image file as [k, size, size] float32 in [0, 1] (k: its channels,
// `expected` of them): the centred square, resized (area averaging when
// shrinking, bilinear when enlarging).
Status decodeFile(const std::string &path, int64_t size, int64_t expected, torch::Tensor &out,
                  int &bits) {
  Image img;
  if (Status s = readImage(path, img); !s)
    return s;
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

Status decodeAll(const SiteIndex &index, const PackOptions &o, PackedImages &packed) {
  const int64_t n = static_cast<int64_t>(index.size()), k = index.channelsPerFile,
                C = static_cast<int64_t>(index.files[0].size()) * k, S = o.size;
  torch::Tensor all = torch::empty({n, C, S, S}, torch::kFloat32);
  std::vector<Status> errors(static_cast<size_t>(n), Status::ok());
  std::atomic<bool> sixteen{false}, failed{false};
  std::atomic<int64_t> next{0};
  auto work = [&] {
    torch::NoGradGuard noGrad;
    for (int64_t s; (s = next++) < n && !failed;) {
      for (size_t f = 0; f < index.files[s].size(); ++f) {
        torch::Tensor planes;
        int bits = 8;
        Status st = Status::ok();
        try { // a worker's exception would end the process
          st = decodeFile(index.files[s][f], S, k, planes, bits);
        } catch (const std::exception &e) {
          st = Status::error(index.files[s][f] + ": cannot decode: " + e.what());
        }
        if (!st) {
          errors[s] = Status::error(st.message() + " (" +
                                    (k == 1 ? "channel " + std::to_string(f + 1) + " of " : "") +
                                    "the site at " + index.where[s] + ")");
          failed = true;
          break;
        }
        sixteen = sixteen || bits == 16;
        all[s].narrow(0, static_cast<int64_t>(f) * k, k).copy_(planes);
      }
    }
  };
  runWorkers(o.threads, work);
  for (const Status &e : errors) // the first failure in site order
    if (!e)
      return e;
  packed.mean = all.mean({0, 2, 3});
  packed.std = all.std(c10::IntArrayRef{0, 2, 3}, /*unbiased=*/false).clamp_min(1e-6);
  packed.images = sixteen ? all.to(torch::kFloat16)
                          : all.mul(255.0).round_().to(torch::kUInt8);
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
    SafeTensors st;
    // A damaged entry is decoded again, not trusted.
    if (mapSafeTensors(file.string(), st) && st.tensors.count("images") && st.tensors.count("mean") &&
        st.tensors.count("std") && st.metadata.count("sha256") &&
        st.tensors["images"].size(0) == static_cast<int64_t>(index.size())) {
      packed.images = st.tensors["images"];
      packed.mean = st.tensors["mean"];
      packed.std = st.tensors["std"];
      packed.sha256 = st.metadata["sha256"];
      packed.reused = true;
      return Status::ok();
    }
  }
  if (o.progress)
    std::fprintf(stderr, "data: decoding %zu sites x %zu channels into %lldx%lld\n", index.size(),
                 files * index.channelsPerFile,
                 (long long)o.size, (long long)o.size);
  if (Status s = decodeAll(index, o, packed); !s)
    return s;
  packed.sha256 = Sha256().update(packed.images).hex();
  if (file.empty())
    return Status::ok();
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  SafeTensors st;
  st.tensors = {{"images", packed.images}, {"mean", packed.mean}, {"std", packed.std}};
  st.metadata = {{"format", kPackFormat}, {"sha256", packed.sha256}, {"sites", std::to_string(index.size())}};
  if (Status s = writeSafeTensors(file.string(), st); !s)
    return s; // written to a temporary and renamed: nothing partial stays
  return Status::ok();
}

} // namespace exprt
