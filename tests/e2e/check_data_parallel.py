#!/usr/bin/env python3
"""Data-parallel training (issue 11) with c10d's Gloo on the loopback:

1. `exp run --nproc 2` and `--nproc 4` match one process with the same
   global batch: per-step losses (CLIP over the gathered global batch),
   gradient norms (the all-reduced gradients), final weights and mAP; and
   so does SigLIP with 2 (an objective's operands gathered);
2. a rank killed mid-run (SIGKILL) makes the others stop with a clear error
   and the launcher name it; the run directory keeps its checkpoint and
   run.json says it failed; `--resume DIR --nproc 4` (another world size)
   finishes it with the uninterrupted run's losses and weights;
3. a global batch the ranks cannot share is refused before training;
4. with the caches on (rank 0 prepares, the others read its caches) the
   training is the same.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
from array import array

exp, spec, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
common = ["--no-cache", "--threads", "2", "-q"]
env = {**os.environ, "EXP_DIST_TIMEOUT": "60"}


def run(args, expect_ok=True, extra_env=None):
    p = subprocess.run([exp, "run", *args], capture_output=True, text=True,
                       env={**env, **(extra_env or {})}, timeout=600)
    if (p.returncode == 0) != expect_ok:
        sys.exit(f"FAIL: exp run {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def metrics(d):
    with open(os.path.join(d, "metrics.json")) as f:
        return json.load(f)


def weights(d):
    """The parameters of the run's newest checkpoint (safetensors, F32)."""
    ckpts = sorted(os.listdir(os.path.join(d, "checkpoints")))
    with open(os.path.join(d, "checkpoints", ckpts[-1], "state.safetensors"), "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name.startswith("param/") and t["dtype"] == "F32":
            a, b = t["data_offsets"]
            out[name] = array("f", data[8 + n + a:8 + n + b])
    return out


def close(a, b, what, tol):
    if len(a) != len(b):
        sys.exit(f"FAIL: {what}: {len(a)} values against {len(b)}")
    worst = max((abs(x - y) / max(1.0, abs(x)) for x, y in zip(a, b)), default=0.0)
    if worst > tol:
        sys.exit(f"FAIL: {what} differ by {worst:.3g} (tolerance {tol})")
    return worst


def same_training(ref, d, label):
    m, r = metrics(d), metrics(ref)
    loss = close(r["train"]["step_loss"], m["train"]["step_loss"], f"{label}: step losses", 1e-5)
    norm = close(r["train"]["step_grad_norm"], m["train"]["step_grad_norm"], f"{label}: gradient norms", 1e-4)
    wa, wb = weights(ref), weights(d)
    if sorted(wa) != sorted(wb):
        sys.exit(f"FAIL: {label}: the checkpoints hold different parameters")
    w = max(close(wa[k], wb[k], f"{label}: final `{k}`", 1e-4) for k in wa)
    if abs(r["evaluations"]["replicates"]["map"] - m["evaluations"]["replicates"]["map"]) > 1e-4:
        sys.exit(f"FAIL: {label}: mAP {m['evaluations']['replicates']['map']} against "
                 f"{r['evaluations']['replicates']['map']}")
    print(f"{label}: {len(m['train']['step_loss'])} steps; max relative difference from one process: "
          f"loss {loss:.1e}, gradient norm {norm:.1e}, weights {w:.1e}")


one = os.path.join(work, "one")
run([spec, "--run-dir", one, *common])
if metrics(one)["train"]["world_size"] != 1:
    sys.exit("FAIL: a plain run records a world size other than 1")
for n in (2, 4):
    d = os.path.join(work, f"nproc{n}")
    run([spec, "--run-dir", d, "--nproc", str(n), *common])
    m = metrics(d)
    if m["train"]["world_size"] != n:
        sys.exit(f"FAIL: --nproc {n} recorded world size {m['train']['world_size']}")
    same_training(one, d, f"--nproc {n}")

# With the caches on, rank 0 prepares the data first and the other ranks
# read its packed screen and features: the same training.
cached = os.path.join(work, "cached")
run([spec, "--run-dir", cached, "--nproc", "2", "--threads", "2", "-q"],
    extra_env={"EXP_CACHE_DIR": os.path.join(work, "cache")})
same_training(one, cached, "--nproc 2 with the data and feature caches")

# SigLIP's pairwise terms gather across ranks too (objectives in runtime/losses).
with open(spec) as f:
    text = f.read()
clip_call = ("clip(cells(screen.image), perturbations(screen.perturbation), temperature = 0.1,\n"
             "  learnable_temperature = true)")
assert clip_call in text
siglip_spec = os.path.join(work, "siglip.exp")
with open(siglip_spec, "w") as f:
    f.write(text.replace("import std.objectives.{clip}", "import std.objectives.{siglip}")
                .replace(clip_call, "siglip(cells(screen.image), perturbations(screen.perturbation))"))
run([siglip_spec, "--run-dir", os.path.join(work, "siglip-one"), *common])
run([siglip_spec, "--run-dir", os.path.join(work, "siglip-2"), "--nproc", "2", *common])
same_training(os.path.join(work, "siglip-one"), os.path.join(work, "siglip-2"), "SigLIP, --nproc 2")

# A rank lost at step 5 of 8; checkpoints every 2 steps.
killed = os.path.join(work, "killed")
p = run([spec, "--run-dir", killed, "--nproc", "2", "--checkpoint-every", "2", *common], expect_ok=False,
        extra_env={"EXP_KILL_RANK": "1:5"})
for needle in ("rank 1 of 2 was killed by signal 9", "the job stopped [T0204]", "lost the other ranks",
               f"exp run --resume {killed} --nproc N"):
    if needle not in p.stderr:
        sys.exit(f"FAIL: the killed job's messages lack `{needle}`:\n{p.stderr}")
with open(os.path.join(killed, "run.json")) as f:
    if json.load(f)["status"] != "failed":
        sys.exit("FAIL: run.json of the killed job does not say it failed")
if sorted(os.listdir(os.path.join(killed, "checkpoints")))[-1] != "step-00000004":
    sys.exit(f"FAIL: expected the step-4 checkpoint, found {os.listdir(os.path.join(killed, 'checkpoints'))}")
print("a killed rank stops the job:", p.stderr.strip().splitlines()[-2])
run(["--resume", killed, "--nproc", "4", "-q"])
same_training(one, killed, "killed at step 5 with 2 ranks, resumed with 4")

p = run([spec, "--run-dir", os.path.join(work, "five"), "--nproc", "5", *common], expect_ok=False)
if "the global batch (24) is not a multiple of the 5 ranks" not in p.stderr or "[R0501]" not in p.stderr:
    sys.exit(f"FAIL: a batch 5 ranks cannot share was not refused clearly:\n{p.stderr}")
print("data parallel: OK")
