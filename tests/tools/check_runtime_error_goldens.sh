#!/usr/bin/env bash
# Every error class of the runtime (runtime/include/exprt/ErrorKinds.def) has
# a golden test: its code, as `[R0100]`, in a FileCheck line under tests/lit
# or in an e2e check under tests/e2e. Fails naming each class without one.
# Also prints how many of the runtime's error sites carry a class so far.
set -euo pipefail
root=$1
def="$root/runtime/include/exprt/ErrorKinds.def"
missing=()
n=0
while IFS= read -r code; do
  n=$((n + 1))
  grep -rqF "[$code]" "$root/tests/lit" "$root/tests/e2e" || missing+=("$code")
done < <(grep -E '^RUNTIME_ERROR\(' "$def" | sed -E 's/.*"(R[0-9]{4})".*/\1/')
if [ ${#missing[@]} -gt 0 ]; then
  echo "runtime error classes without a golden test under tests/lit or tests/e2e:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
coded=$(grep -rhoE 'Status::error\(ErrorKind::' "$root/runtime" --include=*.cpp | wc -l)
all=$(grep -rhoE 'Status::error\(' "$root/runtime" --include=*.cpp | wc -l)
echo "ok: all $n runtime error classes have golden tests; $coded of $all Status::error sites carry a class"
