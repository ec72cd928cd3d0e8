#!/usr/bin/env bash
# Every pass declared in compiler/transforms/Passes.td has a lit test file,
# tests/lit/transforms/<pass>.mlir, and that file fails when the pass is
# disabled: its RUN lines are replayed with `--<pass>` (and `--<pass>=...`)
# removed, and at least one of them must then fail.
set -uo pipefail
root=$1
tools=$2 # exp-opt
llvm_tools=/usr/lib/llvm-19/bin
export PATH="$tools:$llvm_tools:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
mapfile -t passes < <(sed -n 's/^def [A-Za-z]* *: *Pass<"\([a-z0-9-]*\)".*/\1/p' "$root/compiler/transforms/Passes.td")
[ ${#passes[@]} -gt 0 ] || { echo "no passes found in Passes.td" >&2; exit 1; }
for pass in "${passes[@]}"; do
  test_file="$root/tests/lit/transforms/$pass.mlir"
  if [ ! -f "$test_file" ]; then
    echo "FAIL: pass '$pass' has no test file tests/lit/transforms/$pass.mlir" >&2
    status=1
    continue
  fi
  disabled="$tmp/$pass.mlir"
  sed -E "/RUN:/ s/ --$pass(=[^ ]*)?( |\$)/ /g" "$test_file" > "$disabled"
  mapfile -t runs < <(sed -n 's|^// RUN: \(.*\)$|\1|p' "$disabled")
  failed=0
  for run in "${runs[@]}"; do
    cmd=${run//%s/$disabled}
    if ! (cd "$tmp" && bash -o pipefail -c "$cmd" >/dev/null 2>&1); then
      failed=1
      break
    fi
  done
  if [ $failed -eq 0 ]; then
    echo "FAIL: tests/lit/transforms/$pass.mlir still passes with '--$pass' removed" >&2
    status=1
  else
    echo "ok: $pass: its test fails without the pass"
  fi
done
exit $status
