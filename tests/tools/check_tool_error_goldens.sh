#!/usr/bin/env bash
# Every error kind of the exp tool (tools/exp/ToolErrors.def) has a golden
# test: its code, as `[T0105]`, in a FileCheck line under tests/lit or in an
# e2e check under tests/e2e. Fails naming each kind without one.
set -euo pipefail
root=$1
def="$root/tools/exp/ToolErrors.def"
# Reachable only through a bug (an exception escaping a command) or a failed
# process spawn, which a test cannot provoke portably; and a sweep point
# that passes the front end's check of every point but fails in the middle
# end, which no spec reaches today.
exempt="T0001 T0203 T0302 T0305"
missing=()
n=0
while IFS= read -r code; do
  n=$((n + 1))
  [[ " $exempt " == *" $code "* ]] && continue
  grep -rqF "[$code]" "$root/tests/lit" "$root/tests/e2e" || missing+=("$code")
done < <(grep -E '^TOOL_ERROR\(' "$def" | sed -E 's/.*"(T[0-9]{4})".*/\1/')
if [ ${#missing[@]} -gt 0 ]; then
  echo "tool error kinds without a golden test under tests/lit or tests/e2e:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "ok: all $n tool error kinds have golden tests (exempt: $exempt)"
