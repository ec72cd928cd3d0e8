"""The run report (issue 8): `exp run` writes report.html beside metrics.json;
headless Chromium renders it offline with no console output at all, and the
rendered page holds the metric table with the run's numbers, the loss
curves, a 2-D map of the evaluated wells coloured by perturbation and by
batch (one point per well), and the retrieval curves."""
import json
import os
import re
import shutil
import subprocess
import sys

from e2e_util import Check

c = Check(sys.argv)
browser = shutil.which("chromium") or shutil.which("chromium-browser")
if not browser:
    if os.environ.get("EXP_SKIP_BROWSER_TESTS"):
        print("SKIP: no chromium (EXP_SKIP_BROWSER_TESTS is set)")
        sys.exit(0)
    sys.exit("FAIL: chromium is not installed (scripts/install-deps.sh installs it)")


def fail(msg):
    sys.exit("FAIL: " + msg)


run = os.path.join(c.work, "run")
c.run("run", c.spec, "main.epochs=3", "--run-dir", run, "--no-cache", "--threads", "2")
report = os.path.join(run, "report.html")
if not os.path.isfile(report):
    fail("no report.html in the run directory")
html = open(report).read()
# Self-contained: nothing is fetched (the SVG namespace is a name, not a fetch).
if re.search(r'<(link|img|iframe)\b|\bsrc=|@import|url\(', html):
    fail("report.html refers to an external resource")

p = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                    "--v=0", "--dump-dom", "file://" + os.path.abspath(report)],
                   capture_output=True, text=True, timeout=120)
if p.returncode != 0:
    fail(f"chromium exited {p.returncode}\n{p.stderr}")
console = [l for l in p.stderr.splitlines() if "CONSOLE" in l]
if console:
    fail("the report wrote to the console:\n" + "\n".join(console))
dom = p.stdout
if 'data-rendered="true"' not in dom:
    fail("the report's script did not finish")

metrics = json.load(open(os.path.join(run, "metrics.json")))
evals = metrics["evaluations"]


def fmt(v):
    return str(int(v)) if float(v).is_integer() else f"{v:.4f}"


# Every number of the metric table as the record has it.
for name, r in evals.items():
    for key in ["map", "fraction_retrieved", "recall@1", "recall@5", "mean_rank"]:
        if key not in r:
            continue
        row = re.search(rf'<tr data-evaluation="{re.escape(name)}" data-metric="{re.escape(key)}">(.*?)</tr>', dom)
        if not row:
            fail(f"no table row for {name} {key}")
        cells = re.findall(r"<td>(.*?)</td>", row.group(1))
        want = [name, key, fmt(r[key]), fmt(r["untrained"][key]), fmt(r["random_embeddings"][key])]
        if cells != want:
            fail(f"row {name} {key} reads {cells}, the record says {want}")
# Sizes of what was scored are not rows of the score table.
if re.search(r'data-metric="(queries|groups|candidates)"', dom):
    fail("the metric table lists counts (queries, groups, candidates) as scores")


def figure(kind):
    m = re.search(rf'<figure data-plot="{kind}">(.*?)</figure>', dom)
    if not m:
        fail(f"no {kind} plot")
    return m.group(1)


loss = figure("loss")
points = re.search(r'<polyline [^>]*points="([^"]*)"', loss)
if not points or len(points.group(1).split()) != len(metrics["train"]["loss"]):
    fail("the loss curve does not have one point per epoch")
wells = None
for kind in ["map-perturbation", "map-batch"]:
    n = figure(kind).count("<circle")
    wells = wells or n
    if n == 0 or n != wells:
        fail(f"{kind}: {n} points (the other map has {wells})")
queries = evals["replicates"]["queries"]
if wells < queries:
    fail(f"the maps show {wells} wells; replicate mAP scored {queries} queries")
curve = figure("recall-curve")
if curve.count("<polyline") != 2:
    fail("the retrieval curve should have the forward and reverse series")
print(f"ok: report renders; {len(evals)} evaluations, {wells} wells on each map, no console output")
