#!/usr/bin/env bash
# Configures (once) and builds a clang build tree with one of the sanitizer
# options: build-clang-tree.sh DIR OPTION TARGET... (scripts/build-fuzz.sh,
# scripts/build-sanitized.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1 option=$2
shift 2
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "-D$option=ON" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
fi
cmake --build "$dir" --target "$@"
