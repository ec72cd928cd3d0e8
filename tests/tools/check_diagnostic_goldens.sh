#!/usr/bin/env bash
# Every diagnostic kind registered in DiagnosticKinds.def has a golden test:
# an error's code appears in a FileCheck line of a lit test (`[E0500]`), a
# note's text in one (notes print no code). Fails naming each kind without one.
set -euo pipefail
root=$1
def="$root/compiler/diagnostics/DiagnosticKinds.def"
lit="$root/tests/lit"
# Reachable only through a compiler bug (MLIR diagnostics that sema should
# have prevented); the bridge is exercised by the unit tests instead.
exempt="E0700 N0004"
missing=()
n=0
while IFS= read -r line; do
  code=$(sed -E 's/.*"([EN][0-9]{4})".*/\1/' <<<"$line")
  n=$((n + 1))
  [[ " $exempt " == *" $code "* ]] && continue
  if [[ $code == E* ]]; then
    grep -rqE "[A-Z-]+:.*\[$code\]" "$lit" || missing+=("$code")
  else
    # The note's fixed text: its format up to the first `{}`, backticks kept.
    fmt=$(sed -E 's/^DIAGNOSTIC\([A-Za-z]+, Note, "N[0-9]+", "//; s/", .*$//; s/"\)$//; s/\{\{/{/g; s/\}\}/}/g' <<<"$line")
    text=${fmt%%\{\}*}
    [ ${#text} -ge 3 ] || text=$(sed -E 's/^[^}]*\{\}//; s/\{\}.*//' <<<"$fmt")
    grep -rqF -- "$text" "$lit" || missing+=("$code ($text)")
  fi
done < <(grep -E '^DIAGNOSTIC\(' "$def")
if [ ${#missing[@]} -gt 0 ]; then
  echo "diagnostic kinds without a golden test under tests/lit:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "ok: all $n diagnostic kinds have golden tests (exempt: $exempt)"
