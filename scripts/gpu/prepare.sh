#!/usr/bin/env bash
# The GPU bring-up kit, step 1 of 2, run here (the machine with the compiler
# and Debian's packages): gathers into one folder everything a GPU machine
# with CUDA, CMake, ninja and a Python PyTorch — but no Debian -dev packages
# and no network — needs to build the runtime and run the GPU checks and
# benchmarks (scripts/gpu/device.sh, docs/gpu.md "The bring-up kit"):
#
#   src.tar.gz   the runtime's sources: runtime/, contract/, tools/ (run,
#                exp-run), benchmarks/, tests/gpu, tests/tools' GPU checks,
#                cmake/, scripts/gpu/
#   plans/       every GPU test and benchmark plan, compiled for `cuda`
#   deps/        what the build needs beyond LibTorch, as a prefix: the
#                header-only nlohmann/json, CLI11 and fmt with their CMake
#                packages, zlib's and OpenSSL's headers (and libraries, for a
#                machine without them), libcsv (static) and libspng — the
#                simulated screen's CSV and PNG. Every other optional
#                dependency is built off (docs/dependencies.md).
#
#   scripts/gpu/prepare.sh [KIT_DIR] [GPU_ARCH]     (default build/gpu-kit, sm_80)
# Fails if the folder is 64 MiB or more. Needs build/ (scripts/build.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kit=$(realpath -m "${1:-$root/build/gpu-kit}")
arch=${2:-sm_80}
exp=${EXP:-$root/build/bin/exp}
[ -x "$exp" ] || { echo "prepare: no exp at $exp; run scripts/build.sh first" >&2; exit 1; }
step() { printf '[prepare %5ss] %s\n' "$SECONDS" "$*"; }
rm -rf "$kit.tmp" && mkdir -p "$kit.tmp/plans" "$kit.tmp/deps"

step "plans for cuda ($arch)"
compile() { "$exp" compile "$root/$1" --no-cache --target cuda --gpu-arch "$arch" -o "$kit.tmp/plans/$2.cuda.json"; }
compile tests/lit/driver/run-networks.exp networks   # gpu_training_matches_cpu, generated kernels
compile examples/micon.exp micon                     # generated kernels
compile benchmarks/gpu/vit_s16_gpu.exp vit_s16_gpu   # benchmarks/gpu: MFU on ViT-S/16
compile benchmarks/train_step/cellclip_sized.exp cellclip_sized

step "sources"
(cd "$root" && git ls-files -co --exclude-standard -- CMakeLists.txt cmake contract runtime tools/CMakeLists.txt \
   tools/run tools/exp-run benchmarks tests/gpu tests/tools/check_gpu_kernels.sh tests/tools/check_gpu_training.sh \
   scripts/gpu | tar -czf "$kit.tmp/src.tar.gz" -T -)

step "dependencies beyond LibTorch"
deps=$kit.tmp/deps
lib=lib/x86_64-linux-gnu
mkdir -p "$deps/include" "$deps/$lib/cmake" "$deps/share/cmake"
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/fmt /usr/include/openssl "$deps/include/"
cp /usr/include/zlib.h /usr/include/zconf.h /usr/include/csv.h /usr/include/spng.h "$deps/include/"
mkdir -p "$deps/include/x86_64-linux-gnu" && cp -r /usr/include/x86_64-linux-gnu/openssl "$deps/include/x86_64-linux-gnu/"
cp -r /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 "$deps/share/cmake/"
cp -r /usr/$lib/cmake/fmt "$deps/$lib/cmake/"
# fmt's package names its shared library; the kit builds fmt header-only.
cp -P /usr/$lib/libfmt.so* /usr/$lib/libcsv.a /usr/$lib/libspng.so* /usr/$lib/libz.so* /usr/$lib/libcrypto.so* "$deps/$lib/"

rm -rf "$kit" && mv "$kit.tmp" "$kit"
size=$(du -sb "$kit" | cut -f1)
step "kit at $kit: $((size / 1024)) KiB"
ls -l "$kit" "$kit/plans"
if [ "$size" -ge $((64 * 1024 * 1024)) ]; then
  echo "prepare: the kit is $size bytes, over the 64 MiB a device lease carries" >&2
  exit 1
fi
