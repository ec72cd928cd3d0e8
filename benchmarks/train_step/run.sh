#!/usr/bin/env bash
# One training step of each configuration here, in the exp runtime and in
# eager PyTorch (Debian's python3-torch: the same ATen build as the runtime's
# libtorch), with the same threads; prints milliseconds per step and the ratio
# (PyTorch time / exp time: > 1 means exp is faster).
#
#   benchmarks/train_step/run.sh [THREADS] [REPEATS]     (after a build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${EXP_BIN:-$root/build/bin}
threads=${1:-2}
repeats=${2:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf "%-16s %10s %10s %8s\n" config "exp ms" "torch ms" ratio
for spec in "$here"/*.exp; do
  name=$(basename "$spec" .exp)
  "$bin/exp" compile "$spec" --no-cache -o "$tmp/$name.json"
  ours=$("$bin/exp-bench-train-step" "$tmp/$name.json" "$threads" "$repeats")
  theirs=$(/usr/bin/python3 "$here/eager_pytorch_$name.py" "$tmp/$name.json" "$threads" "$repeats")
  printf "%-16s %10.2f %10.2f %7.2fx\n" "$name" "$ours" "$theirs" \
    "$(echo "$theirs / $ours" | bc -l)"
done
