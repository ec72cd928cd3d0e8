#!/usr/bin/env bash
# Front-end time (parse + imports + sema, stdlib included) for every example,
# and compile time (source -> plan, no cache) for those the middle end lowers.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target exp-bench-frontend > /dev/null
./build/bin/exp-bench-frontend --runs "${RUNS:-20}" examples/*.exp
