#!/usr/bin/env bash
# A bounded libFuzzer run of the front end: seeds are every .exp file in the
# repository (examples, stdlib, tests); fails on any crash, hang (> 25 s per
# input), leak or sanitizer report.
#   run_fuzz.sh FUZZER SOURCE_DIR SECONDS
set -euo pipefail
fuzzer=$1
src=$2
seconds=$3
[ -x "$fuzzer" ] || { echo "no fuzzer at $fuzzer; build it with scripts/build-fuzz.sh" >&2; exit 1; }
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
i=0
while IFS= read -r f; do
  cp "$f" "$corpus/seed-$i.exp"
  i=$((i + 1))
done < <(find "$src/examples" "$src/stdlib" "$src/tests" -name '*.exp')
cd "$corpus"
"$fuzzer" -seed="${EXP_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 -max_len=8192 \
  -dict="$src/tests/fuzz/exp.dict" -print_final_stats=1 -artifact_prefix="$corpus/" "$corpus" 2>&1 |
  tail -n 25
status=${PIPESTATUS[0]}
# `ls` of the four patterns fails when any one is absent: find them instead.
found=$(find "$corpus" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'leak-*' -o -name 'oom-*' \))
if [ -n "$found" ]; then
  echo "fuzzer findings:" >&2
  for a in $found; do
    echo "== $a" >&2
    head -c 2000 "$a" >&2
    echo >&2
  done
  exit 1
fi
exit "$status"
