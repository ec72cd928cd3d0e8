#!/usr/bin/env bash
# Data-parallel scaling on this machine (c10d, Gloo over the loopback): the
# training throughput of benchmarks/scaling/scaling.exp (a global batch of
# 64) in 1 and 2 processes, two ways:
#  - the same cores shared (2 threads in all): what data parallelism costs
#    on one machine (efficiency = throughput with N ranks / with 1);
#  - one core per rank (1 thread each): strong scaling of the same global
#    batch over N cores (efficiency = speedup / N).
# The median of REPEATS runs of each. With DEVICE=cuda and NPROCS="1 2 4 8",
# the same for the GPUs of a GPU machine (one per rank).
#
#   benchmarks/scaling/run.sh [REPEATS]       (after a build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${EXP_BIN:-$root/build/bin}
repeats=${1:-3}
device=${DEVICE:-cpu}
nprocs=${NPROCS:-"1 2"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EXP_CACHE_DIR="$tmp/cache"
"$bin/exp" compile "$here/scaling.exp" -o "$tmp/plan.json"

# Median training seconds of `exp run` with N ranks and T threads in all
# (measured once per setting).
declare -A measured
seconds() {
  local n=$1 t=$2 runs=()
  if [ -n "${measured[$n-$t]:-}" ]; then
    echo "${measured[$n-$t]}"
    return
  fi
  for r in $(seq "$repeats"); do
    "$bin/exp" run "$tmp/plan.json" -q --nproc "$n" --threads "$t" --device "$device" \
      --run-dir "$tmp/run-$n-$t-$r" > /dev/null
    runs+=("$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['train']['seconds'])" \
      "$tmp/run-$n-$t-$r/metrics.json")")
  done
  printf "%s\n" "${runs[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
# `seconds` runs in a subshell ($(...)), so the cache is filled here.
measure() { measured[$1-$2]=$(seconds "$1" "$2"); }

samples=$((64 * 30))
printf "%-34s %6s %10s %12s %11s\n" setting ranks "train s" "samples/s" efficiency
base_shared="" base_core=""
for n in $nprocs; do
  if [ "$device" = cpu ]; then
    measure "$n" 2
    shared=${measured[$n-2]}
    [ -z "$base_shared" ] && base_shared=$shared
    printf "%-34s %6d %10.2f %12.1f %10.0f%%\n" "2 cores shared" "$n" "$shared" \
      "$(echo "$samples / $shared" | bc -l)" "$(echo "100 * $base_shared / $shared" | bc -l)"
  fi
  measure "$n" "$n"
  core=${measured[$n-$n]}
  [ -z "$base_core" ] && base_core=$core
  printf "%-34s %6d %10.2f %12.1f %10.0f%%\n" "one $( [ "$device" = cpu ] && echo core || echo GPU ) per rank" "$n" "$core" \
    "$(echo "$samples / $core" | bc -l)" "$(echo "100 * $base_core / ($core * $n)" | bc -l)"
done
