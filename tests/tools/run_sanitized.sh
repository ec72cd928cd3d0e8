#!/usr/bin/env bash
# Tests run against the ASan + UBSan build of `exp` and its runtime
# (build-sanitized, scripts/build-sanitized.sh): the whole lit suite (every
# diagnostic, driver error and language test), or end-to-end scripts whose
# subject is bad input. A sanitizer report fails the run even where the test
# expects `exp` to fail (`not exp ...`): every report goes to a file, and any
# error in one is a failure.
#   run_sanitized.sh PYTHON SANITIZED_BUILD_DIR lit LIT_PY
#   run_sanitized.sh PYTHON SANITIZED_BUILD_DIR e2e SOURCE_DIR SCRIPT:SPEC...
set -euo pipefail
python=$1
tree=$(realpath "$2")
mode=$3
shift 3
[ -x "$tree/bin/exp" ] && [ -f "$tree/tests/lit/lit.site.cfg.py" ] ||
  { echo "no sanitized build at $tree; build it with scripts/build-sanitized.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/reports"
# allocator_may_return_null: a huge allocation must reach the runtime as the
# std::bad_alloc it reports (R0502), as in a normal build, not stop the
# process. use_tls=0 and the suppressions: tests/tools/lsan.supp says why.
# EXP_SANITIZED tells a test that limits memory to use ASan's allocation
# limit instead of an address-space limit (ASan reserves terabytes of shadow).
export ASAN_OPTIONS="log_path=$work/reports/asan:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="log_path=$work/reports/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="use_tls=0:print_suppressions=0:suppressions=$(dirname "$(realpath "$0")")/lsan.supp"
export EXP_SANITIZED=1
status=0
if [ "$mode" = lit ]; then
  "$python" "$1" -sv "$tree/tests/lit" --filter "${EXP_SANITIZED_FILTER:-.}" || status=$?
else
  src=$(realpath "$1")
  shift
  for pair in "$@"; do
    script=${pair%%:*} spec=${pair#*:}
    echo "== $script ($spec.exp)"
    "$python" "$src/tests/e2e/$script.py" "$tree/bin/exp" "$src/tests/e2e/$spec.exp" "$work/$script" ||
      { status=1; echo "FAILED: $script" >&2; }
  done
fi
# A report is an error (ASan, LSan, UBSan's "runtime error") or a sanitizer
# that stopped; a warning alone (a huge allocation refused, as the
# out-of-memory tests ask) is not.
found=$(grep -l -E "ERROR: |runtime error:|fatal error" "$work/reports"/* 2>/dev/null || true)
if [ -n "$found" ]; then
  echo "sanitizer reports:" >&2
  for r in $found; do
    echo "== $r" >&2
    head -n 60 "$r" >&2
  done
  exit 1
fi
exit "$status"
