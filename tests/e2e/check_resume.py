#!/usr/bin/env python3
"""Reproducibility and fault handling of `exp run` (issue 5's done-when 1, 2, 4),
and bf16 autocast:

1. a run killed with SIGKILL at random points and resumed with
   `exp run --resume` ends with the same metrics, bit for bit, as one that
   was never interrupted;
2. two runs with the same seed agree exactly (with or without data worker
   threads); another seed differs;
3. NaN injected into an op stops the run with a message naming the step and
   the op's source, keeps the last good checkpoint, and exits non-zero;
4. a truncated checkpoint and a plan of another format version are refused
   with a clear message and a non-zero exit, losing no finished checkpoint
   and leaving no run directory behind.
"""
import glob
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

exp, spec, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
# Deterministic comparisons need the same threads in every run.
common = ["--no-cache", "--threads", "2", "--quiet"]


def run(args, env=None, expect=0):
    p = subprocess.run([exp, "run", *args], capture_output=True, text=True,
                       env={**os.environ, **(env or {})})
    if (p.returncode == 0) != (expect == 0):
        sys.exit(f"FAIL: exp run {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        m = json.load(f)
    t = m["train"]
    return {"evaluations": m["evaluations"],
            **{k: t[k] for k in ["loss", "step_loss", "step_lr", "step_grad_norm", "steps"]}}


def checkpoints(run_dir):
    return sorted(glob.glob(os.path.join(run_dir, "checkpoints", "step-*")))


def step_of(path):
    return int(os.path.basename(path).split("-")[1])


# --- 2. same seed, same metrics; another seed, other metrics -----------------
a = os.path.join(work, "a")
run([spec, "--run-dir", a, "--checkpoint-every", "1", *common])
reference = metrics(a)
total = reference["steps"]
# (The second builds its augmented batches in the training thread, the first
# on a worker thread: that must not matter either.)
run([spec, "--run-dir", os.path.join(work, "a2"), "--data-workers", "0", *common])
if metrics(os.path.join(work, "a2")) != reference:
    sys.exit("FAIL: two runs of the same spec and seed differ")
run([spec, "main.seed=1", "--run-dir", os.path.join(work, "seed1"), *common])
other = metrics(os.path.join(work, "seed1"))
if other["step_loss"] == reference["step_loss"] or other["evaluations"] == reference["evaluations"]:
    sys.exit("FAIL: another seed gives the same losses or metrics")
print(f"determinism: ok ({total} steps)")

# --- 1. SIGKILL at random points, then resume ------------------------------
# Rounds of: start a run, kill it at a random point, resume, kill again, ...
# then let it finish; each round's metrics must equal the uninterrupted run's.
# Kill points are chosen by progress, not by time, so a loaded machine cannot
# make every kill miss: wait until the newest checkpoint reaches a random step
# (-1: as soon as the run directory exists), then kill after a random few
# milliseconds — inside a step, a checkpoint write or the evaluation.
rng = random.Random(5)
mid_training = 0


def newest_step(run_dir):
    done = [step_of(c) for c in checkpoints(run_dir)]
    return max(done) if done else -1


for round in range(3):
    b = os.path.join(work, f"killed{round}")
    targets = sorted(rng.sample(range(-1, total), 3))
    steps, resumes = [], 0
    for target in targets + [None]:
        fresh = not os.path.isdir(b)
        args = [spec, "--run-dir", b, "--checkpoint-every", "1", *common] if fresh else \
               ["--resume", b, "--quiet"]
        resumes += not fresh
        proc = subprocess.Popen([exp, "run", *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if target is not None:
            while proc.poll() is None and not (os.path.isdir(b) and newest_step(b) >= target):
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                steps.append(newest_step(b))
                mid_training += 0 < steps[-1] < total
                continue
        proc.wait()
        if proc.returncode != 0:
            sys.exit(f"FAIL: exp run {' '.join(args)} exited {proc.returncode}\n{proc.stderr.read()}")
        if os.path.isfile(os.path.join(b, "metrics.json")):
            break
    resumed = metrics(b)
    for key in reference:
        if resumed[key] != reference[key]:
            sys.exit(f"FAIL: round {round}: the resumed run's `{key}` differs from the "
                     "uninterrupted run's")
    with open(os.path.join(b, "run.json")) as f:
        info = json.load(f)
    # A resume killed before it got going has no entry.
    if info["status"] != "finished" or not (resumes == 0) == (len(info["resumed"]) == 0) \
            or len(info["resumed"]) > resumes:
        sys.exit(f"FAIL: run.json after resuming: {info}")
    print(f"round {round}: killed with the newest checkpoint at steps {steps} of {total}; "
          "resumed: identical")
if mid_training < 3:
    sys.exit(f"FAIL: only {mid_training} kills landed during training")

# --- 3. NaN in an op: stop, name step and op, keep the checkpoint -------------
with open(os.path.join(a, "plan.json")) as f:
    plan = json.load(f)
ops = plan["graphs"][plan["train"]["graph"]]["ops"]
victim = next(i for i, o in enumerate(ops) if o["op"] == "linear")
n = os.path.join(work, "nan")
p = run([spec, "--run-dir", n, "--checkpoint-every", "2", *common],
        env={"EXP_INJECT_NAN": f"7:{victim}"}, expect=1)
if "stopped at step 7 " not in p.stderr or f"computed by `linear` at {ops[victim]['loc']}" not in p.stderr \
        or "[R0500]" not in p.stderr:
    sys.exit(f"FAIL: the NaN message does not name the step and the op:\n{p.stderr}")
kept = [step_of(c) for c in checkpoints(n)]
if not kept or max(kept) != 6 or "last good checkpoint" not in p.stderr:
    sys.exit(f"FAIL: the last good checkpoint (step 6) was not kept: {kept}\n{p.stderr}")
with open(os.path.join(n, "run.json")) as f:
    if json.load(f)["status"] != "failed":
        sys.exit("FAIL: run.json does not say the run failed")
if os.path.exists(os.path.join(n, "metrics.json")):
    sys.exit("FAIL: a failed run wrote final metrics")
print("NaN: ok")

# --- 4. a truncated checkpoint; a plan of another format version -------------
t = os.path.join(work, "truncated")
shutil.copytree(a, t)
with open(os.path.join(t, "run.json")) as f:
    info = json.load(f)
info["status"] = "running"  # as a run killed after its last checkpoint
with open(os.path.join(t, "run.json"), "w") as f:
    json.dump(info, f)
os.remove(os.path.join(t, "metrics.json"))
newest = checkpoints(t)[-1]
state = os.path.join(newest, "state.safetensors")
size = os.path.getsize(state)
with open(state, "r+b") as f:
    f.truncate(size // 2)
p = run(["--resume", t, "--quiet"], expect=1)
if state not in p.stderr or "truncated" not in p.stderr or "[R0301]" not in p.stderr:
    sys.exit(f"FAIL: the truncated checkpoint's error does not name the file:\n{p.stderr}")
if len(checkpoints(t)) != 2 or os.path.getsize(state) != size // 2:
    sys.exit("FAIL: resuming from a bad checkpoint changed the checkpoints")
print("truncated checkpoint: ok")

# The manifest's state_sha256 is the file's plain SHA-256 (sha256sum's).
newest_a = checkpoints(a)[-1]
with open(os.path.join(newest_a, "state.safetensors"), "rb") as f, \
        open(os.path.join(newest_a, "manifest.json")) as g:
    if json.load(g)["state_sha256"] != hashlib.sha256(f.read()).hexdigest():
        sys.exit("FAIL: the manifest's state_sha256 is not the SHA-256 of state.safetensors")

# A checkpoint whose row order does not fit the dataset (its hash made to
# match, as a buggy writer would) is refused rather than indexed out of range.
o = os.path.join(work, "bad-order")
shutil.copytree(t, o)
shutil.rmtree(checkpoints(o)[-1])
newest = checkpoints(o)[-1]
state = os.path.join(newest, "state.safetensors")
with open(state, "rb") as f:
    data = bytearray(f.read())
n_header = int.from_bytes(data[:8], "little")
header = json.loads(data[8:8 + n_header])
begin, end = header["loader/order"]["data_offsets"]
start_byte = 8 + n_header + begin
data[start_byte:start_byte + 8] = (10**9).to_bytes(8, "little")
with open(state, "wb") as f:
    f.write(data)
with open(os.path.join(newest, "manifest.json")) as f:
    manifest = json.load(f)
manifest["state_sha256"] = hashlib.sha256(data).hexdigest()
with open(os.path.join(newest, "manifest.json"), "w") as f:
    json.dump(manifest, f)
p = run(["--resume", o, "--quiet"], expect=1)
if "`loader/order` does not hold" not in p.stderr or newest not in p.stderr or "[R0302]" not in p.stderr:
    sys.exit(f"FAIL: a bad row order in a checkpoint is not refused clearly:\n{p.stderr}")
print("bad row order: ok")

# A manifest claiming a step past the plan's budget (issue 31: it gave a
# "finished" record with fewer steps trained) is refused, naming the counters.
s = os.path.join(work, "past-budget")
shutil.copytree(t, s)
shutil.rmtree(checkpoints(s)[-1])
newest = checkpoints(s)[-1]
with open(os.path.join(newest, "manifest.json")) as f:
    manifest = json.load(f)
manifest["step"] += 10**6
manifest["batch"] = manifest["step"] * 2  # accumulate = 2
with open(os.path.join(newest, "manifest.json"), "w") as f:
    json.dump(manifest, f)
p = run(["--resume", s, "--quiet"], expect=1)
if "do not fit this plan's budget" not in p.stderr or newest not in p.stderr or "[R0302]" not in p.stderr:
    sys.exit(f"FAIL: a step past the budget is not refused clearly:\n{p.stderr}")
if os.path.exists(os.path.join(s, "metrics.json")):
    sys.exit("FAIL: a refused resume wrote final metrics")
print("step past the budget: ok")

bad_plan = os.path.join(work, "v99.json")
plan["format_version"] = 99
with open(bad_plan, "w") as f:
    json.dump(plan, f)
v = os.path.join(work, "v99-run")
p = run([bad_plan, "--run-dir", v, *common], expect=1)
if f"{bad_plan}: plan format version 99 is not supported" not in p.stderr or "[R0101]" not in p.stderr:
    sys.exit(f"FAIL: the wrong plan version's error is unclear:\n{p.stderr}")
if os.path.exists(v):
    sys.exit("FAIL: a refused plan left a run directory behind")
print("wrong plan version: ok")

# --- bf16 autocast runs, learns, and computes differently from fp32 ----------
with open(spec) as f:
    text = f.read()
bf16_spec = os.path.join(work, "bf16.exp")
with open(bf16_spec, "w") as f:
    f.write(text.replace("  accumulate = 2\n", '  accumulate = 2\n  precision = "bf16"\n'))
run([bf16_spec, "--run-dir", os.path.join(work, "bf16"), *common])
low = metrics(os.path.join(work, "bf16"))
if low["step_loss"] == reference["step_loss"]:
    sys.exit("FAIL: precision = bf16 computed exactly what fp32 did (autocast not applied?)")
if not low["loss"][-1] < 0.9 * low["loss"][0]:
    sys.exit(f"FAIL: bf16 training did not lower the loss: {low['loss']}")
print("bf16: ok")

# --- out of memory: a clear message, no crash, nothing half-written ----------
# A training step needing ~160 MiB per activation under a 1.5 GB address-space
# limit: LibTorch's allocator fails inside the step (the evaluations embed 16
# rows at a time, so they fit).
import resource  # noqa: E402

with open(bf16_spec, "w") as f:
    f.write(text.replace("width = 16, depth = 3", "width = 256, depth = 1")
                .replace("batch = 32", "batch = 160")
                .replace("precision = \"bf16\"\n", "")
                .replace("diffby = screen.held_out.plate)", "diffby = screen.held_out.plate) { batch = 16 }")
                .replace("k = [1, 5])", "k = [1, 5]) { batch = 16 }"))
big = os.path.join(work, "oom")
limit = 1_500_000_000
if os.environ.get("EXP_SANITIZED"):  # ASan's shadow needs terabytes of address space: cap allocations instead
    p = subprocess.run([exp, "run", bf16_spec, "--run-dir", big, *common], capture_output=True, text=True,
                       env={**os.environ, "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":max_allocation_size_mb=100"})
else:
    p = subprocess.run([exp, "run", bf16_spec, "--run-dir", big, *common], capture_output=True,
                       text=True, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
if p.returncode == 0 or p.returncode < 0 or "stopped at step 1 (epoch 1, batch 1): out of memory" \
        not in p.stderr or "tried to allocate" not in p.stderr or "lower `batch`" not in p.stderr \
        or "[R0502]" not in p.stderr:
    sys.exit(f"FAIL: out of memory is not reported clearly (exit {p.returncode}):\n{p.stderr}")
if os.path.exists(big):
    sys.exit("FAIL: a run that failed before any checkpoint left a run directory")
print("out of memory: ok")

# --- disk full: a clear message, finished checkpoints kept, then resume --------
# A file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so writes fail with
# EFBIG instead of killing the process) stands in for a full disk: every
# checkpoint grows by its loss history, so one ~15 steps before the end no
# longer fits. The run must stop with the error, keep the checkpoints it
# finished (and no half-written one), and resume to the uninterrupted result.
final_size = os.path.getsize(os.path.join(checkpoints(a)[-1], "state.safetensors"))
fsize = final_size - 32 * 15


def limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


# The limit is for checkpoints: the packed images (larger) come from a cache
# an unlimited run fills first.
cached = {**os.environ, "EXP_CACHE_DIR": os.path.join(work, "cache")}
uncached = [a for a in common if a != "--no-cache"]
subprocess.run([exp, "run", spec, "--run-dir", os.path.join(work, "warm"), *uncached],
               capture_output=True, check=True, env=cached)
full = os.path.join(work, "full")
p = subprocess.run([exp, "run", spec, "--run-dir", full, "--checkpoint-every", "1", *uncached],
                   capture_output=True, text=True, restore_signals=False, preexec_fn=limit_file_size,
                   env=cached)
kept = checkpoints(full)
if p.returncode <= 0 or "cannot write a checkpoint at step" not in p.stderr \
        or "file-size limit" not in p.stderr or "the last good checkpoint is kept in" not in p.stderr \
        or f"exp run --resume {full}" not in p.stderr or "[R0303]" not in p.stderr:
    sys.exit(f"FAIL: a full disk is not reported clearly (exit {p.returncode}):\n{p.stderr}")
failed_at = int(p.stderr.split("cannot write a checkpoint at step ")[1].split(":")[0])
if not kept or step_of(kept[-1]) != failed_at - 1 or not 1 < failed_at < total:
    sys.exit(f"FAIL: failed at step {failed_at} of {total} keeping {kept}")
leftovers = [n for n in os.listdir(os.path.join(full, "checkpoints")) if n.startswith(".")]
if leftovers:
    sys.exit(f"FAIL: a failed checkpoint write left {leftovers}")
run(["--resume", full, *uncached], env={"EXP_CACHE_DIR": os.path.join(work, "cache")})
if metrics(full) != reference:
    sys.exit("FAIL: resuming after a full disk differs from the uninterrupted run")
print(f"disk full: ok (stopped at step {failed_at} of {total}, kept step {step_of(kept[-1])}, resumed)")
