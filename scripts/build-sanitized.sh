#!/usr/bin/env bash
# Builds the `exp` tool and the runtime it loads with clang, ASan and UBSan in
# build-sanitized/ (EXP_SANITIZE): the bad-input tests run this `exp`
# (tests/tools/run_sanitized.sh, ctest `sanitized_bad_input`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-clang-tree.sh "${SANITIZED_DIR:-build-sanitized}" EXP_SANITIZE exp exp-run exp_runtime exp-opt exp_fake_runtime
