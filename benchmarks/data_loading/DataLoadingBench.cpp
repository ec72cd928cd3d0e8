// Training-loader throughput (issue 6): one epoch of shuffled batches from
// packed, memory-mapped images, against decoding the PNG files every epoch
// and against reading the packed bytes sequentially (the ceiling). Prints
// images per second and the ratios.
//
//   exp-bench-data [THREADS] [REPEATS] [IMAGE_SIZE]
#include "data/simulator/SimulatedScreen.h"
#include "prep/Image.h"
#include "prep/Pack.h"
#include "prep/Readers.h"
#include "prep/Workers.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <fcntl.h>
#include <unistd.h>

using namespace exprt;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void check(const Status &s) {
  if (!s) {
    std::fprintf(stderr, "exp-bench-data: %s\n", s.message().c_str());
    std::exit(1);
  }
}

} // namespace

int main(int argc, char **argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  const int64_t size = argc > 3 ? std::atoll(argv[3]) : 64;
  torch::set_num_threads(threads);
  fs::path dir = fs::temp_directory_path() / ("exp-bench-data-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path p;
    ~Cleanup() { fs::remove_all(p); }
  } cleanup{dir};

  // A 5-channel screen in RxRx1's layout: 8 plates x 152 wells x 4 sites.
  nlohmann::json params = {{"seed", 1}, {"plates", 8}, {"holdout_plates", 2}, {"perturbations", 48},
                           {"replicates", 3}, {"controls", 8}, {"sites", 4}, {"channels", 5},
                           {"image_size", size}};
  auto t0 = Clock::now();
  check(writeSimulatedScreen(params, (dir / "screen").string()));
  double writeSeconds = seconds(t0);
  SiteIndex index;
  check(readRxrx1((dir / "screen").string(), 5, index));
  const int64_t n = static_cast<int64_t>(index.size());
  PackOptions po;
  po.size = size;
  po.cacheDir = (dir / "packed").string();
  po.threads = threads;
  PackedImages packed;
  t0 = Clock::now();
  check(packImages(index, po, packed));
  double packSeconds = seconds(t0);
  check(packImages(index, po, packed)); // the mapped copy, as a later run reads it
  std::printf("screen: %lld sites x 5 channels x %lldx%lld (%.1f MB packed); written in %.1fs, "
              "packed once in %.1fs\n",
              (long long)n, (long long)size, (long long)size, packed.images.numel() / 1e6,
              writeSeconds, packSeconds);

  Screen screen;
  screen.images = packed.images;
  screen.mean = packed.mean;
  screen.std = packed.std;
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(7);
  const int64_t batch = 256;

  // 1. Raw: the packed file's bytes read sequentially (from the page cache,
  // warmed by the first pass), no decoding, no conversion.
  std::string file = (fs::path(po.cacheDir) / (packed.key + ".safetensors")).string();
  std::vector<char> buf(1 << 22);
  double raw = 0;
  for (int r = 0; r <= repeats; ++r) {
    int fd = ::open(file.c_str(), O_RDONLY);
    t0 = Clock::now();
    size_t total = 0;
    for (ssize_t k; (k = ::read(fd, buf.data(), buf.size())) > 0;)
      total += static_cast<size_t>(k);
    double s = seconds(t0);
    ::close(fd);
    if (r > 0)
      raw = std::max(raw, double(n) / s * (double(packed.images.numel()) / double(total)));
  }

  // 2. Packed: an epoch of shuffled batches, gathered, widened, normalised.
  double packedRate = 0;
  double sink = 0;
  for (int r = 0; r < repeats; ++r) {
    std::shuffle(order.begin(), order.end(), rng);
    t0 = Clock::now();
    for (int64_t b = 0; b + batch <= n; b += batch) {
      torch::Tensor rows = torch::tensor(
          std::vector<int64_t>(order.begin() + b, order.begin() + b + batch), torch::kInt64);
      sink += screen.imageRows(rows)[0][0][0][0].item<float>();
    }
    packedRate = std::max(packedRate, double(n / batch * batch) / seconds(t0));
  }

  // 3. PNG: the same batches decoded from the files every epoch (on
  // `threads` threads), resized and normalised.
  const int64_t decodeSites = std::min<int64_t>(n, 1024);
  double pngRate = 0;
  for (int r = 0; r < repeats; ++r) {
    std::shuffle(order.begin(), order.end(), rng);
    t0 = Clock::now();
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> decoded{0};
    runWorkers(threads, [&] {
      for (int64_t i; (i = next++) < decodeSites;) {
        for (const std::string &f : index.files[order[i]]) {
          Image img;
          check(readPng(f, img));
          decoded += img.toTensor().sub(0.1).div(0.2).numel();
        }
      }
    });
    sink += double(decoded);
    pngRate = std::max(pngRate, double(decodeSites) / seconds(t0));
  }

  std::printf("loader (threads = %d, best of %d)     %12s\n", threads, repeats, "images/s");
  std::printf("%-34s %12.0f\n", "raw sequential read of packed bytes", raw);
  std::printf("%-34s %12.0f\n", "packed, shuffled batches of 256", packedRate);
  std::printf("%-34s %12.0f\n", "PNG decoded every epoch", pngRate);
  std::printf("packed vs PNG: %.1fx faster; raw read vs packed: %.2fx (target <= 2)\n",
              packedRate / pngRate, raw / packedRate);
  return sink == 12345.678 ? 2 : 0; // keeps the work observable
}
