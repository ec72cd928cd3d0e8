#!/usr/bin/env bash
# Start-up: `exp check` of the flagship against `exp-opt --version` (the
# compiler's own libraries and nothing else), median wall time of REPEATS
# runs each, and the ratio (issue 30's target: at most 1.5x). Also how many
# shared libraries each binary maps, and `exp run`'s cost of loading the
# runtime (`exp run --resume` of a missing directory: it loads the runtime,
# then refuses).
#   benchmarks/startup/run.sh [REPEATS]   (from the repository root, after a build)
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-21}
bin=${BUILD_DIR:-build}/bin
spec=examples/clip_screen.exp

median_ms() { # command...: the median wall time in ms over $repeats runs
  local times=()
  for ((i = 0; i < repeats; i++)); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

"$bin/exp" check "$spec" # warm the page cache; a failing check stops here
opt=$(median_ms "$bin/exp-opt" --version)
version=$(median_ms "$bin/exp" --version)
check=$(median_ms "$bin/exp" check "$spec")
runtime=$(median_ms "$bin/exp" run --resume /nonexistent-run-dir)
libs() { ldd "$1" | wc -l; }
echo "start-up, median of $repeats runs ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
printf '%-40s %8s ms  %4s shared libraries\n' "exp-opt --version" "$opt" "$(libs "$bin/exp-opt")"
printf '%-40s %8s ms  %4s shared libraries\n' "exp --version" "$version" "$(libs "$bin/exp")"
printf '%-40s %8s ms\n' "exp check $spec" "$check"
printf '%-40s %8s ms  %4s with the runtime\n' "exp run (loads the runtime, then stops)" "$runtime" \
  "$(ldd "$bin/../lib/libexp_runtime.so" | wc -l)"
awk -v c="$check" -v o="$opt" 'BEGIN {printf "ratio exp check / exp-opt --version: %.2fx (target <= 1.5x)\n", c / o}'
