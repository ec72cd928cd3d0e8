#!/usr/bin/env bash
# Start-up: `exp check` of the flagship against `exp-opt --version` (the
# compiler's own libraries and nothing else), median wall time of REPEATS
# runs each, the two interleaved, and the ratio (issue 30's target: at most 1.5x). Also how many
# shared libraries each binary maps, and `exp run`'s cost of loading the
# runtime (`exp run --resume` of a missing directory: it loads the runtime,
# then refuses).
#   benchmarks/startup/run.sh [REPEATS]   (from the repository root, after a build)
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-21}
bin=${BUILD_DIR:-build}/bin
spec=examples/clip_screen.exp

ms_now() { date +%s%N; }
# The median wall time in ms of each of two commands over $repeats runs,
# interleaved (A, B, A, B, ...) so that a noisy machine slows both alike.
paired_medians() { # "A command" "B command": prints "A_ms B_ms"
  local a=() b=()
  for ((i = 0; i < repeats; i++)); do
    local t0 t1 t2
    t0=$(ms_now); eval "$1" >/dev/null 2>&1 || true
    t1=$(ms_now); eval "$2" >/dev/null 2>&1 || true
    t2=$(ms_now)
    a+=($(((t1 - t0) / 1000))); b+=($(((t2 - t1) / 1000)))
  done
  local ma mb
  ma=$(printf '%s\n' "${a[@]}" | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int((NR+1)/2)]/1000}')
  mb=$(printf '%s\n' "${b[@]}" | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int((NR+1)/2)]/1000}')
  echo "$ma $mb"
}

"$bin/exp" check "$spec" # warm the page cache; a failing check stops here
read -r opt check < <(paired_medians "$bin/exp-opt --version" "$bin/exp check $spec")
read -r version runtime < <(paired_medians "$bin/exp --version" "$bin/exp run --resume /nonexistent-run-dir")
libs() { ldd "$1" | wc -l; }
echo "start-up, median of $repeats runs ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
printf '%-40s %8s ms  %4s shared libraries\n' "exp-opt --version" "$opt" "$(libs "$bin/exp-opt")"
printf '%-40s %8s ms  %4s shared libraries\n' "exp --version" "$version" "$(libs "$bin/exp")"
printf '%-40s %8s ms\n' "exp check $spec" "$check"
printf '%-40s %8s ms  %4s with the runtime\n' "exp run (loads the runtime, then stops)" "$runtime" \
  "$(ldd "$bin/../lib/libexp_runtime.so" | wc -l)"
awk -v c="$check" -v o="$opt" 'BEGIN {printf "ratio exp check / exp-opt --version: %.2fx (target <= 1.5x)\n", c / o}'
