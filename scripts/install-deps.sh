#!/usr/bin/env bash
# Installs the Debian bookworm packages the project needs, and only those that are missing.
# Idempotent: a second run installs nothing and exits quickly.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # front end: ANTLR tool 4.7.2 + C++ runtime 4.9 (both ATN serialisation v3)
  antlr4 libantlr4-runtime-dev
  # middle end: MLIR/LLVM 19, ODS via mlir-tblgen-19, FileCheck + lit for IR tests
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools python3
  # runtime: LibTorch (CPU) with the OpenMP OpenBLAS (reference BLAS makes GEMM ~30x slower)
  libtorch-dev libopenblas0-openmp
  # data-parallel training: the Gloo headers c10d's ProcessGroupGloo includes
  libgloo-dev
  # data preparation: CSV (libcsv), PNG (libspng), TIFF (libtiff), SQLite profiles,
  # zip/tar archives (.npz sites, WebDataset shards), JPEG 2000 (OpenJPEG), AnnData (HDF5)
  libcsv-dev libspng-dev libtiff-dev libsqlite3-dev libarchive-dev libopenjp2-7-dev libhdf5-dev
  # side information: molecules (RDKit; its headers include Boost, which librdkit-dev does not pull in)
  librdkit-dev libboost-dev
  # the run report's browser test: headless Chromium renders report.html
  chromium
  # fuzzing the front end: clang with libFuzzer, ASan and UBSan
  clang libclang-rt-14-dev
  # shared
  nlohmann-json3-dev libcli11-dev libfmt-dev doctest-dev zlib1g-dev libssl-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# LibTorch must pick the OpenMP OpenBLAS, not the reference BLAS.
if command -v update-alternatives >/dev/null; then
  for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
    cand=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-openmp || true)
    if [ -n "$cand" ]; then $SUDO update-alternatives --set "$alt" "$cand" >/dev/null; fi
  done
fi
echo "install-deps: done"
