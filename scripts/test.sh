#!/usr/bin/env bash
# Builds (installing what is missing) and runs the whole test suite: unit tests
# (doctest), IR and diagnostics tests (lit + FileCheck) and end-to-end runs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
./scripts/build-fuzz.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j2 "$@"
