#!/usr/bin/env bash
# `exp fmt` in CI: the canonical files (examples, stdlib, e2e inputs) are
# formatted; formatting every .exp file in the repository is idempotent and
# keeps its meaning (the AST, minus source positions, is unchanged).
set -euo pipefail
exp=$1
root=$2
cd "$root"
"$exp" fmt --check examples/*.exp stdlib/std/*.exp tests/e2e/*.exp
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
while IFS= read -r f; do
  cp "$f" "$tmp/a.exp"
  # Files that do not parse (diagnostic tests) are refused, never rewritten.
  if ! "$exp" fmt "$tmp/a.exp" 2>/dev/null; then
    cmp -s "$f" "$tmp/a.exp" || { echo "fmt changed $f although it does not parse" >&2; exit 1; }
    continue
  fi
  cp "$tmp/a.exp" "$tmp/b.exp"
  "$exp" fmt "$tmp/b.exp"
  cmp -s "$tmp/a.exp" "$tmp/b.exp" || { echo "fmt is not idempotent on $f" >&2; diff "$tmp/a.exp" "$tmp/b.exp" >&2; exit 1; }
  cp "$f" "$tmp/orig.exp"
  strip() { "$exp" compile "$1" --emit=ast 2>/dev/null | sed -e 's/ <[0-9:-]*>//g' -e '1d' || true; }
  if [ "$(strip "$tmp/orig.exp")" != "$(strip "$tmp/a.exp")" ]; then
    echo "fmt changed the meaning of $f" >&2
    exit 1
  fi
  n=$((n + 1))
done < <(git ls-files '*.exp' 2>/dev/null || find . -name '*.exp')
echo "ok: fmt is idempotent and meaning-preserving on $n files"
