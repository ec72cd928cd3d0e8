#!/usr/bin/env bash
# Builds the front end and the runtime's readers with clang, libFuzzer, ASan and
# UBSan in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-clang-tree.sh "${FUZZ_DIR:-build-fuzz}" EXP_FUZZ exp-fuzz-frontend exp-fuzz-readers
