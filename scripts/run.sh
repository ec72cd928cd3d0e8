#!/usr/bin/env bash
# Builds (installing what is missing) and runs the flagship example end to end:
# compile, train on the built-in simulated screen, evaluate, write a run record.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
exec "${BUILD_DIR:-build}/bin/exp" run examples/clip_screen.exp "$@"
