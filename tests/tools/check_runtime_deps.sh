#!/usr/bin/env bash
# The runtime library must not depend on the compiler: no MLIR, LLVM or ANTLR
# among its dynamic dependencies (CMake also refuses such links at configure).
set -euo pipefail
lib=$1
deps=$(ldd "$lib")
echo "$deps"
if echo "$deps" | grep -Eiq 'libMLIR|libLLVM|antlr4|libexpc'; then
  echo "FAIL: $lib depends on the compiler's libraries" >&2
  exit 1
fi
echo "$deps" | grep -q 'libtorch' || { echo "FAIL: $lib does not link LibTorch" >&2; exit 1; }
echo "ok: $lib links LibTorch and no MLIR, LLVM or ANTLR"
