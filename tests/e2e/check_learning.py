#!/usr/bin/env python3
"""End to end: `exp run` on a tiny simulated screen writes a complete run
record, and the trained embeddings beat random ones by a clear margin on
replicate mAP and cross-modal recall."""
import json
import os
import shutil
import subprocess
import sys

exp, spec, run_dir = sys.argv[1:4]
shutil.rmtree(run_dir, ignore_errors=True)
proc = subprocess.run([exp, "run", spec, "--run-dir", run_dir, "--quiet"],
                      capture_output=True, text=True)
print(proc.stdout)
print(proc.stderr, file=sys.stderr)
if proc.returncode != 0:
    sys.exit(f"FAIL: exp run exited {proc.returncode}")

for name in ["spec.exp", "plan.json", "metrics.json"]:
    if not os.path.isfile(os.path.join(run_dir, name)):
        sys.exit(f"FAIL: run record lacks {name}")
if os.path.exists(run_dir + ".partial"):
    sys.exit("FAIL: a partial run directory was left behind")
with open(os.path.join(run_dir, "spec.exp")) as f, open(spec) as g:
    if f.read() != g.read():
        sys.exit("FAIL: the recorded spec differs from the source")
with open(os.path.join(run_dir, "plan.json")) as f:
    plan = json.load(f)
    assert plan["format"] == "exp-plan" and plan["format_version"] == 9, plan["format"]

with open(os.path.join(run_dir, "metrics.json")) as f:
    m = json.load(f)
rep = m["evaluations"]["replicates"]
ret = m["evaluations"]["retrieval"]
trained, random = rep["map"], rep["random_embeddings"]["map"]
r1, chance = ret["recall@1"], 1.0 / ret["candidates"]
loss = m["train"]["loss"]
print(f"replicate mAP: trained {trained:.4f}, untrained {rep['untrained']['map']:.4f}, random {random:.4f}")
print(f"recall@1: trained {r1:.4f}, chance {chance:.4f}; loss {loss[0]:.3f} -> {loss[-1]:.3f}")
failures = []
if not trained >= random + 0.2:
    failures.append(f"trained mAP {trained:.4f} is not clearly above random {random:.4f}")
if not trained > rep["untrained"]["map"]:
    failures.append("training did not improve replicate mAP")
if not r1 >= 5 * chance:
    failures.append(f"recall@1 {r1:.4f} is not far above chance {chance:.4f}")
if not loss[-1] < 0.8 * loss[0]:
    failures.append("the training loss did not fall")
if failures:
    sys.exit("FAIL: " + "; ".join(failures))
print("ok")
