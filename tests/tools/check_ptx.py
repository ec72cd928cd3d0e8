#!/usr/bin/env python3
"""Assembles the PTX a plan (or step IR from exp-opt) carries with ptxas.

check_ptx.py FILE --ptxas PTXAS --arch sm_XX

FILE is a plan (.json, its `gpu.ptx`) or MLIR text whose module has
`step.gpu = {..., ptx = "..."}`. Checks that every kernel a fusion group
names (and its `_grad`) is an entry of the PTX, then runs ptxas on it for
the architecture; exits non-zero naming what failed.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile


def from_mlir(text):
    m = re.search(r'step\.gpu = \{arch = "(sm_\d+)", block = \d+ : i64, ptx = "((?:[^"\\]|\\.)*)"\}', text)
    if not m:
        sys.exit("no step.gpu attribute with PTX in the IR")
    raw = m.group(2)
    ptx = re.sub(r'\\([0-9A-Fa-f]{2})', lambda x: chr(int(x.group(1), 16)), raw)
    kernels = set(re.findall(r'step\.kernel = "([^"]+)"', text))
    return m.group(1), ptx, kernels


def from_plan(text):
    plan = json.loads(text)
    if "gpu" not in plan:
        sys.exit("the plan carries no `gpu` kernels (compile with --target cuda)")
    kernels = {f["kernel"] for g in plan["graphs"].values() for f in g.get("fusions", []) if "kernel" in f}
    return plan["gpu"]["arch"], plan["gpu"]["ptx"], kernels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--ptxas", required=True)
    ap.add_argument("--arch", required=True)
    args = ap.parse_args()
    text = open(args.file).read()
    arch, ptx, kernels = from_plan(text) if args.file.endswith(".json") else from_mlir(text)
    ptx = ptx.rstrip("\0")
    if not kernels:
        sys.exit(f"{args.file}: no fusion group names a kernel")
    entries = set(re.findall(r"\.visible \.entry (\w+)\(", ptx))
    for k in sorted(kernels):
        for name in (k, k + "_grad"):
            if name not in entries:
                sys.exit(f"{args.file}: kernel `{name}` is not an entry of the PTX (entries: {sorted(entries)})")
    if f".target {arch}" not in ptx:
        sys.exit(f"{args.file}: the PTX does not target {arch}")
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "kernels.ptx")
        open(src, "w").write(ptx)
        r = subprocess.run([args.ptxas, f"-arch={args.arch}", src, "-o", os.path.join(d, "kernels.cubin")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{args.file}: ptxas -arch={args.arch} refused the PTX:\n{r.stderr}")
    print(f"{args.file}: {len(entries)} kernels for {len(kernels)} groups assemble for {args.arch}")


if __name__ == "__main__":
    main()
