#!/usr/bin/env bash
# Builds (installing what is missing) and runs the whole test suite: unit tests
# (doctest), IR and diagnostics tests (lit + FileCheck) and end-to-end runs;
# the fuzz tree (build-fuzz) and the sanitized tree (build-sanitized) first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
./scripts/build-fuzz.sh
./scripts/build-sanitized.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j2 "$@"
