#!/usr/bin/env bash
# `exp fmt` in CI: the canonical files (examples, stdlib, e2e inputs) are
# formatted, and formatting every .exp file in the repository is idempotent.
# (`exp fmt` itself refuses to write output whose AST differs from the input's.)
set -euo pipefail
exp=$1
root=$2
cd "$root"
"$exp" fmt --check examples/*.exp stdlib/std/*.exp tests/e2e/*.exp
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t files < <(git ls-files '*.exp' 2>/dev/null || find . -name '*.exp')
for f in "${files[@]}"; do
  mkdir -p "$tmp/once/$(dirname "$f")"
  cp "$f" "$tmp/once/$f"
done
# Files that do not parse (diagnostic tests) are reported and left alone.
(cd "$tmp/once" && "$exp" fmt "${files[@]}" 2>/dev/null) || true
cp -r "$tmp/once" "$tmp/twice"
(cd "$tmp/twice" && "$exp" fmt "${files[@]}" 2>/dev/null) || true
diff -r "$tmp/once" "$tmp/twice" >&2 || { echo "exp fmt is not idempotent" >&2; exit 1; }
echo "ok: fmt --check passes on the canonical files; fmt is idempotent on ${#files[@]} files"
