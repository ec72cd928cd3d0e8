#!/usr/bin/env bash
# Every example checks and compiles to a plan.
set -euo pipefail
exp=$1
dir=$2
n=0
for f in "$dir"/*.exp; do
  "$exp" check "$f"
  "$exp" compile "$f" --emit=plan > /dev/null
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no examples found in $dir" >&2; exit 1; }
echo "ok: $n examples check and compile"
