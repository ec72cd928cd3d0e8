#!/usr/bin/env python3
"""Frozen-encoder hoisting end to end (issue 4, done-when 2): the plan of a
CellCLIP-style experiment runs no forward pass of its frozen per-channel
backbone inside the training step (nor in evaluation: both read one
precomputed features graph), and training on the precomputed features
gives the losses of a plan compiled without the pass, at a fraction of the
step time (printed as a ratio; not asserted, timing is for benchmarks)."""
import json
import os
import shutil
import subprocess
import sys

exp, spec, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)


def run(name, *extra):
    run_dir = os.path.join(work, name)
    proc = subprocess.run([exp, "run", spec, "--run-dir", run_dir, "--quiet", "--no-cache", *extra],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"FAIL: exp run {' '.join(extra)} exited {proc.returncode}:\n{proc.stderr}")
    with open(os.path.join(run_dir, "plan.json")) as f:
        plan = json.load(f)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        return plan, json.load(f)


hoisted_plan, hoisted = run("hoisted")
plain_plan, plain = run("plain", "--disable-pass", "step-hoist-frozen-encoders")

# The plan: the backbone runs in a precompute graph, not in the step.
step = hoisted_plan["graphs"][hoisted_plan["train"]["graph"]]
step_ops = [op["op"] for op in step["ops"]]
backbone = [op["attrs"]["parameter"] for op in step["ops"]
            if op["op"] == "param" and op["attrs"]["parameter"].startswith("backbone.")]
if "conv2d" in step_ops or backbone:
    sys.exit(f"FAIL: the hoisted training step still runs the backbone: {step_ops}")
if [p["graph"] for p in hoisted_plan["precompute"]] != ["features_train_step"]:
    sys.exit(f"FAIL: expected one precompute graph, got {hoisted_plan['precompute']}")
if not any(i.get("features") for i in step["inputs"]) or any(i.get("column") == "image" for i in step["inputs"]):
    sys.exit(f"FAIL: the step should read cached features, not images: {step['inputs']}")
for name, graph in hoisted_plan["graphs"].items():
    if name.startswith("embed_") and "conv2d" in [o["op"] for o in graph["ops"]]:
        sys.exit(f"FAIL: evaluation graph {name} still runs the backbone")
if plain_plan["precompute"] or "conv2d" not in [o["op"] for o in plain_plan["graphs"]["train_step"]["ops"]]:
    sys.exit("FAIL: --disable-pass step-hoist-frozen-encoders still hoisted")

# The same losses, epoch by epoch.
a, b = hoisted["train"]["loss"], plain["train"]["loss"]
print("epoch losses, hoisted:  ", " ".join(f"{x:.6f}" for x in a))
print("epoch losses, in-step:  ", " ".join(f"{x:.6f}" for x in b))
if len(a) != len(b) or any(abs(x - y) > 1e-4 * max(1.0, abs(y)) for x, y in zip(a, b)):
    sys.exit("FAIL: training on cached features changed the losses")
if abs(hoisted["evaluations"]["replicates"]["map"] - plain["evaluations"]["replicates"]["map"]) > 1e-3:
    sys.exit("FAIL: the trained models differ in replicate mAP")

step_h = hoisted["train"]["seconds"] / hoisted["train"]["steps"]
step_p = plain["train"]["seconds"] / plain["train"]["steps"]
pre = sum(p["seconds"] for p in hoisted["precompute"])
rows = sum(p["rows"] for p in hoisted["precompute"])
print(f"step time: {1e3 * step_h:.2f} ms cached vs {1e3 * step_p:.2f} ms in-step: "
      f"ratio {step_h / step_p:.3f} ({step_p / step_h:.1f}x faster per step)")
print(f"one-off precompute over {rows} rows (training and held-out): {pre:.2f} s, "
      f"the time of {pre / step_p:.0f} in-step training steps")
print("ok: the backbone left the step; losses match")
