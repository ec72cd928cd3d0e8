#!/usr/bin/env bash
# A bounded libFuzzer run of one of the runtime's readers (tests/fuzz/
# ReadersFuzz.cpp). Seeds: small valid files written by the project's own
# writers (EXP_FUZZ_SEEDS), and for the plan reader the plans `exp compile`
# makes of the examples. Fails on any crash, hang (> 25 s per input), leak,
# out-of-memory or sanitizer report, and prints what was found.
#   run_readers_fuzz.sh FUZZER SOURCE_DIR READER SECONDS [EXP]
# A longer campaign: the same with SECONDS=3600, EXP_FUZZ_SEED=0 and a kept
# corpus directory in EXP_FUZZ_CORPUS (docs/limits.md, "Fuzzing").
set -euo pipefail
fuzzer=$(realpath "$1")
src=$(realpath "$2")
reader=$3
seconds=$4
exp=${5:+$(realpath "$5")}
[ -x "$fuzzer" ] || { echo "no fuzzer at $fuzzer; build it with scripts/build-fuzz.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus=${EXP_FUZZ_CORPUS:-$work/corpus}
mkdir -p "$corpus" "$work/seeds"
EXP_FUZZ_SEEDS="$work/seeds" ASAN_OPTIONS=detect_leaks=0 "$fuzzer"
if [ "$reader" = plan ] && [ -n "$exp" ]; then
  mkdir -p "$work/seeds/plan"
  for f in "$src"/examples/*.exp; do
    "$exp" compile "$f" -o "$work/seeds/plan/$(basename "$f" .exp).json" >/dev/null 2>&1 || true
  done
fi
[ -d "$work/seeds/$reader" ] && cp "$work/seeds/$reader"/* "$corpus"/
ls "$corpus" | grep -q . || { echo "no seeds for reader '$reader'" >&2; exit 1; }
cd "$work"
set +e
# -malloc_limit_mb: one allocation past it would stop the fuzzer even where
# the reader answers the std::bad_alloc (a size read from a damaged file);
# the whole process's RSS stays bounded by -rss_limit_mb. -seed: the suite's
# runs mutate the same way each time (a failure replays); a campaign passes
# EXP_FUZZ_SEED=0 for a fresh random one.
EXP_FUZZ_READER=$reader "$fuzzer" -seed="${EXP_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 \
  -malloc_limit_mb=1048576 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/" "$corpus" >"$work/log" 2>&1
status=$?
set -e
tail -n 25 "$work/log"
# What libFuzzer kept (`ls` of the four patterns fails when any one is
# absent, so they are found one by one).
found=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'leak-*' -o -name 'oom-*' \))
if [ -n "$found" ]; then
  echo "fuzzer findings ($reader):" >&2
  grep -E "readers fuzz:|ERROR: |runtime error:|SUMMARY:" "$work/log" | head -n 20 >&2 || true
  keep=${EXP_FUZZ_ARTIFACTS:-${TMPDIR:-/tmp}/exp-fuzz-findings/$reader}
  mkdir -p "$keep" && cp $found "$keep"/
  echo "(inputs kept in $keep; replay one with EXP_FUZZ_READER=$reader $fuzzer FILE)" >&2
  for a in $found; do
    echo "== $a" >&2
    base64 -w0 "$a" | head -c 4000 >&2
    echo >&2
  done
  exit 1
fi
exit "$status"
