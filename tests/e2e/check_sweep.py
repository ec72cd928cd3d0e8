#!/usr/bin/env python3
"""`exp sweep` (issue 11): every point compiled before any runs; the points
run here two at a time (the `sweep` block's `parallel`) and land in one
results table; a point that does not check stops the sweep with nothing
run; `--slurm` writes a job array script over the same compiled points and
`--collect` gathers results.
"""
import csv
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Check  # noqa: E402

c = Check(sys.argv)
sweep_dir = os.path.join(c.work, "sweep")
p = c.run("sweep", c.spec, "--dir", sweep_dir, "--threads", "2")
with open(os.path.join(sweep_dir, "results.csv")) as f:
    rows = list(csv.DictReader(f))
if len(rows) != 4 or any(r["status"] != "finished" for r in rows):
    sys.exit(f"FAIL: expected 4 finished points, got {rows}")
if len({r["final_loss"] for r in rows}) != 4 or "replicates.map" not in rows[0]:
    sys.exit(f"FAIL: the points do not differ or lack their metrics: {rows}")
with open(os.path.join(sweep_dir, "sweep.json")) as f:
    points = json.load(f)["points"]
plans = []
for pt in points:
    with open(os.path.join(sweep_dir, pt["dir"], "plan.json")) as f:
        plans.append(json.load(f))
lrs = sorted({pl["train"]["optimizer"]["params"]["lr"] for pl in plans})
dims = sorted({q["shape"][1] for pl in plans for q in pl["parameters"] if q["name"].endswith("embedding.table")})
if lrs != [1e-3, 1e-2] or dims != [8, 16] or len(plans) != 4:
    sys.exit(f"FAIL: the plans do not cover the grid: lr {lrs}, dims {dims}")
if "point" not in p.stdout or "results:" not in p.stdout:
    sys.exit(f"FAIL: no table printed:\n{p.stdout}")
print(p.stdout.strip())

# A point that does not check: nothing runs, no directory is left.
bad = os.path.join(c.work, "bad.exp")
with open(c.spec) as f:
    text = f.read().replace("sweep [8, 16]", "sweep [8, 0]")
with open(bad, "w") as f:
    f.write(text)
bad_dir = os.path.join(c.work, "bad-sweep")
p = c.run("sweep", bad, "--dir", bad_dir, expect_ok=False)
if os.path.exists(bad_dir) or "sweep point" not in p.stderr:
    sys.exit(f"FAIL: a bad point was not refused before running:\n{p.stderr}")

# No sweep at all.
plain = os.path.join(c.work, "plain.exp")
with open(plain, "w") as f:
    f.write(text.replace("sweep [8, 0]", "8").replace("sweep [1e-3, 1e-2]", "1e-3"))
p = c.run("sweep", plain, expect_ok=False)
if "has no sweep points" not in p.stderr or "[T0301]" not in p.stderr:
    sys.exit(f"FAIL: a file without sweeps was not refused clearly:\n{p.stderr}")

# Slurm: a job array over the compiled points; run one task as Slurm would.
slurm_dir = os.path.join(c.work, "slurm")
script = os.path.join(c.work, "sweep.sbatch")
c.run("sweep", c.spec, "--dir", slurm_dir, "--slurm", script)
with open(script) as f:
    body = f.read()
if "#SBATCH --array=0-3%2" not in body or "--collect" not in body:
    sys.exit(f"FAIL: the job array script is not as expected:\n{body}")
env = {**c.env, "SLURM_ARRAY_TASK_ID": "2"}
r = subprocess.run(["bash", script], capture_output=True, text=True, env=env)
if r.returncode != 0:
    sys.exit(f"FAIL: the array task failed:\n{r.stdout}\n{r.stderr}")
p = c.run("sweep", "--collect", slurm_dir, expect_ok=False)  # 3 of 4 points never ran
with open(os.path.join(slurm_dir, "results.csv")) as f:
    status = [row["status"] for row in csv.DictReader(f)]
if status != ["not run", "not run", "finished", "not run"] or "3 of 4 points did not finish [T0306]" not in p.stderr:
    sys.exit(f"FAIL: --collect after one array task: {status}\n{p.stderr}")
print("sweep: OK")
