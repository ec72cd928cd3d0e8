#!/usr/bin/env python3
"""The run record (issue 5): what ran, on what, and what came out.

1. the run directory holds spec, plan, environment (versions, CPU, threads),
   the data's content hash, metrics and the log of what the run printed;
2. it is mirrored in an MLflow file store beside it (mlruns/EXP/RUN with
   meta.yaml, params, metrics as `timestamp value step` lines, tags) whose
   values are the run's own;
3. a run that fails after a checkpoint is recorded as FAILED;
4. on a terminal a progress bar with throughput and ETA is redrawn in place;
   the log keeps only the finished lines.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

exp, spec, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
runs = os.path.join(work, "runs")


def run(args, env=None, expect=0):
    p = subprocess.run([exp, "run", *args], capture_output=True,
                       env={**os.environ, **(env or {})})
    # Bytes decoded by hand: text mode would turn a "\r" into a newline.
    p.stdout, p.stderr = p.stdout.decode(), p.stderr.decode()
    if (p.returncode == 0) != (expect == 0):
        sys.exit(f"FAIL: exp run {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def load(path):
    with open(path) as f:
        return json.load(f)


def fail(msg):
    sys.exit("FAIL: " + msg)


# --- 1. the run directory ------------------------------------------------------
a = os.path.join(runs, "a")
p = run([spec, "main.epochs=3", "--run-dir", a, "--no-cache", "--threads", "2"])
for f in ["spec.exp", "plan.json", "environment.json", "metrics.json", "run.json", "run.log"]:
    if not os.path.isfile(os.path.join(a, f)):
        fail(f"the run directory has no {f}")
env = load(os.path.join(a, "environment.json"))
if not re.fullmatch(r"\d+\.\d+\.\d+.*", env["libtorch_version"]) or env["threads"] != 2 \
        or env["cpu"]["logical_cores"] < 1 or not env["runtime_version"]:
    fail(f"environment.json lacks versions, threads or CPU: {env}")
m = load(os.path.join(a, "metrics.json"))
if not re.fullmatch(r"[0-9a-f]{64}", m["data"]["sha256"]):
    fail("metrics.json has no content hash of the data")
log = open(os.path.join(a, "run.log"), newline="").read()
if "epoch   3/3" not in log or "\r" in log or log != p.stderr:
    fail(f"run.log is not the run's output:\n{log}\n---\n{p.stderr}")
b = os.path.join(runs, "b")
run([spec, "main.epochs=1", "--run-dir", b, "--no-cache", "-q"])
if load(os.path.join(b, "metrics.json"))["data"]["sha256"] != m["data"]["sha256"]:
    fail("the same data hashes differently in two runs")
print("run directory: ok")

# --- 2. the MLflow view ---------------------------------------------------------
info = load(os.path.join(a, "run.json"))
exps = glob.glob(os.path.join(runs, "mlruns", "*", "meta.yaml"))
if len(exps) != 1 or "name: 'tiny_screen'" not in open(exps[0]).read():
    fail(f"expected one MLflow experiment named tiny_screen: {exps}")
exp_dir = os.path.dirname(exps[0])
exp_id = os.path.basename(exp_dir)
if f"experiment_id: '{exp_id}'" not in open(exps[0]).read():
    fail("the experiment's meta.yaml does not name its directory")
rd = os.path.join(exp_dir, info["mlflow_run_id"])
meta = open(os.path.join(rd, "meta.yaml")).read()
for want in [f"run_id: {info['mlflow_run_id']}", "status: 3", "lifecycle_stage: active",
             f"artifact_uri: 'file://{os.path.abspath(a)}'", f"experiment_id: '{exp_id}'"]:
    if want not in meta:
        fail(f"run meta.yaml lacks `{want}`:\n{meta}")
plan = load(os.path.join(a, "plan.json"))
params = {f: open(os.path.join(rd, "params", f)).read() for f in os.listdir(os.path.join(rd, "params"))}
if params["train.batch"] != str(plan["train"]["batch"]) or params["train.optimizer"] != "adamw" \
        or float(params["train.optimizer.lr"]) != plan["train"]["optimizer"]["params"]["lr"] \
        or params["data.plates"] != str(plan["data"]["params"]["plates"]):
    fail(f"params differ from the plan: {params}")
lines = open(os.path.join(rd, "metrics", "step_loss")).read().splitlines()
values = []
for i, line in enumerate(lines):
    t, v, s = line.split(" ")
    if int(s) != i + 1 or int(t) < 1_600_000_000_000:
        fail(f"bad metric line `{line}`")
    values.append(float(v))
if values != m["train"]["step_loss"]:
    fail("metrics/step_loss differs from metrics.json")
final = float(open(os.path.join(rd, "metrics", "retrieval.recall_1")).read().split(" ")[1])
if final != m["evaluations"]["retrieval"]["recall@1"]:
    fail("metrics/retrieval.recall_1 differs from metrics.json")
tags = {f: open(os.path.join(rd, "tags", f)).read() for f in os.listdir(os.path.join(rd, "tags"))}
if tags["mlflow.runName"] != "a" or tags["exp.data_sha256"] != m["data"]["sha256"] \
        or tags["exp.overrides"] != "main.epochs=3":
    fail(f"tags: {tags}")
print("MLflow view: ok")

# --- 3. a failed run is recorded as such ----------------------------------------
c = os.path.join(runs, "c")
run([spec, "main.epochs=2", "--run-dir", c, "--no-cache", "-q", "--checkpoint-every", "1"],
    env={"EXP_INJECT_NAN": "5:0"}, expect=1)
cid = load(os.path.join(c, "run.json"))["mlflow_run_id"]
failed_meta = open(os.path.join(exp_dir, cid, "meta.yaml")).read()
if "status: 4" not in failed_meta or "end_time: null" in failed_meta:
    fail(f"a failed run is not FAILED, with its end time, in the MLflow view:\n{failed_meta}")
if "stopped at step 5" not in open(os.path.join(exp_dir, cid, "tags", "exp.error")).read():
    fail("the MLflow view does not say why the run failed (tag exp.error)")
# A run that fails before its first checkpoint leaves no run directory, and
# no MLflow run pointing at one (issue 31: it stayed RUNNING there).
before = sorted(os.listdir(exp_dir))
e = os.path.join(runs, "e")
run([spec, "main.epochs=2", "--run-dir", e, "--no-cache", "-q"], env={"EXP_INJECT_NAN": "1:0"}, expect=1)
if os.path.exists(e) or sorted(os.listdir(exp_dir)) != before:
    fail(f"a run that failed at once left {e} or an MLflow run: {sorted(os.listdir(exp_dir))} vs {before}")
print("failed run: ok")

# --- 4. a progress bar on a terminal ---------------------------------------------
if shutil.which("script"):
    d = os.path.join(runs, "d")
    cmd = f"{exp} run {spec} main.epochs=2 --run-dir {d} --no-cache"
    t = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                       env={**os.environ, "TERM": "xterm"})
    out = t.stdout.decode(errors="replace")  # bytes: keep the carriage returns
    if t.returncode != 0 or not re.search(r"\r\x1b\[K\[[#.]+\] \d+/\d+ steps .* samples/s .* ETA", out):
        fail(f"no progress bar on a terminal:\n{out!r}")
    if "ETA" in open(os.path.join(d, "run.log")).read():
        fail("the progress bar leaked into run.log")
    if "\r" in p.stderr:
        fail("a progress bar was drawn into a pipe")
    print("progress bar: ok")
