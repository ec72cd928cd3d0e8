#!/usr/bin/env python3
"""Early stopping on a validation split (issue 5):

1. with `val_fraction` and `early_stop_patience`, training stops once the
   validation loss has not improved for `patience` epochs, and records the
   loss per epoch and the best epoch;
2. the run ends with the best epoch's parameters: its evaluation equals that
   of a run trained for exactly `best_epoch` epochs without early stopping;
3. a run interrupted after its best epoch (by an injected fault) and resumed
   ends with the same metrics, bit for bit — the best parameters and the
   patience count travel in the checkpoint;
4. early stopping without a validation split is a compile error.
"""
import json
import os
import shutil
import subprocess
import sys

exp, spec, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
common = ["--no-cache", "--threads", "2", "--quiet"]


def run(args, env=None, expect=0):
    p = subprocess.run([exp, *args], capture_output=True, text=True,
                       env={**os.environ, **(env or {})})
    if (p.returncode == 0) != (expect == 0):
        sys.exit(f"FAIL: exp {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        return json.load(f)


# --- 1. it stops, and says where ---------------------------------------------
a = os.path.join(work, "a")
run(["run", spec, "--run-dir", a, "--checkpoint-every", "1", *common])
m = metrics(a)
t = m["train"]
val, best, patience = t["val_loss"], t["best_epoch"], 3
if not t["stopped_early"]:
    sys.exit(f"FAIL: training did not stop early (validation losses {val})")
if len(val) != best + patience or len(t["loss"]) != len(val) or len(val) >= 60:
    sys.exit(f"FAIL: stopped after {len(val)} epochs; best {best}, patience {patience}")
if min(val) != val[best - 1] or any(v < val[best - 1] for v in val[best:]):
    sys.exit(f"FAIL: epoch {best} is not the lowest validation loss: {val}")
if m["data"]["val_sites"] <= 0:
    sys.exit("FAIL: no validation sites recorded")
print(f"stops: ok (best epoch {best} of {len(val)})")

# --- 2. it keeps the best epoch's parameters ---------------------------------
b = os.path.join(work, "best")
run(["run", spec, f"main.epochs={best}", "main.early_stop_patience=0", "--run-dir", b, *common])
mb = metrics(b)
if mb["train"]["stopped_early"] or mb["train"]["val_loss"] != val[:best]:
    sys.exit("FAIL: the run of best_epoch epochs did not retrace the first run")
if mb["evaluations"] != m["evaluations"]:
    sys.exit(f"FAIL: the early-stopped run's evaluation is not the best epoch's:\n"
             f"{m['evaluations']}\n{mb['evaluations']}")
print("keeps the best parameters: ok")

# --- 3. interrupted after the best epoch, resumed: the same metrics ----------
# An injected NaN stops the run at a step between the best epoch and the stop.
steps_per_epoch = t["steps"] // len(val)
stop_step = (best + 1) * steps_per_epoch + 1
c = os.path.join(work, "c")
p = run(["run", spec, "--run-dir", c, "--checkpoint-every", "1", *common],
        env={"EXP_INJECT_NAN": f"{stop_step}:0"}, expect=1)
if "NaN" not in p.stderr:
    sys.exit(f"FAIL: the injected fault did not stop the run:\n{p.stderr}")
run(["run", "--resume", c, *common[1:]])
mc = metrics(c)
for key in ["evaluations"]:
    if mc[key] != m[key]:
        sys.exit(f"FAIL: the resumed run's {key} differ")
for key in ["loss", "val_loss", "best_epoch", "stopped_early", "step_loss"]:
    if mc["train"][key] != t[key]:
        sys.exit(f"FAIL: the resumed run's train.{key} differs")
print("resume after the best epoch: ok")

# --- 4. no validation split: a compile error ----------------------------------
p = run(["check", spec, "screen.val_fraction=0"], expect=1)
if "E0608" not in p.stderr or "val_fraction" not in p.stderr:
    sys.exit(f"FAIL: expected E0608 naming val_fraction:\n{p.stderr}")
print("no validation split: ok")
