#!/usr/bin/env bash
# The readers' fuzz harness and the suite agree: every reader the harness
# has gets a bounded run (tests/CMakeLists.txt), and no run names a reader
# it lacks.   check_fuzz_readers.sh FUZZER READER...
set -euo pipefail
fuzzer=$1
shift
diff <(EXP_FUZZ_READER=list "$fuzzer") <(printf '%s\n' "$@") ||
  { echo "the harness's readers (<) and the suite's fuzz_reader_* tests (>) differ" >&2; exit 1; }
