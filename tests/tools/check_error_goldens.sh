#!/usr/bin/env bash
# Every error kind registered in a .def file has a golden test: its code, as
# `[T0105]` or `[R0100]`, in a FileCheck line under tests/lit or in an e2e
# check under tests/e2e. Fails naming each kind without one.
#   check_error_goldens.sh ROOT DEF_FILE MACRO "EXEMPT CODES"
set -euo pipefail
root=$1 def=$2 macro=$3 exempt=${4:-}
missing=()
n=0
while IFS= read -r code; do
  n=$((n + 1))
  [[ " $exempt " == *" $code "* ]] && continue
  grep -rqF "[$code]" "$root/tests/lit" "$root/tests/e2e" || missing+=("$code")
done < <(grep -E "^$macro\(" "$def" | sed -E 's/.*"([A-Z][0-9]{4})".*/\1/')
if [ ${#missing[@]} -gt 0 ]; then
  echo "error kinds of $def without a golden test under tests/lit or tests/e2e:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "ok: all $n error kinds of $def have golden tests${exempt:+ (exempt: $exempt)}"
# Each error site names its class: exprt::Status::error has no overload
# without one, so the compiler refuses a site that forgets; this checks that
# no such overload has come back.
if [ "$macro" = RUNTIME_ERROR ] &&
  grep -qE 'static Status error\(std::string' "$root/runtime/include/exprt/Status.h"; then
  echo "exprt/Status.h: Status::error(message) without a class is back" >&2
  exit 1
fi
