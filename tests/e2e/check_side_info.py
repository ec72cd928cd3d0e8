#!/usr/bin/env python3
"""Side information in runs (issue 7): `morgan` fingerprints of the simulated
compounds (JUMP layout) feed a molecule encoder; the second run reads them
from the cache (the run record's side_cache counter says so); the simulated
screen's own side files (`@data/side/...`) give cell-line vectors from the
embedding table and from the single-cell .h5ad; a table missing a cell line
is refused with the names; an invalid SMILES stops a run naming its line, or
with `invalid = "drop"` drops its rows and lists them; in JUMP's layout, where
SMILES come from the compound table, that table's line and compound are named
(issue 31); a side declared but unused is never featurised.
"""
import csv
import gzip
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Check, write_bray_site  # noqa: E402

check = Check(sys.argv)
exp, work, env = check.exp, check.work, check.env
exp_run = check.run



def write(name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def record(run):
    with open(os.path.join(work, run, "metrics.json")) as f:
        return json.load(f)


TRAIN = '''train main {
  objective = align
  epochs = 1
  batch = 8
  optimizer = adamw(lr = 1e-3)
}
'''

# --- morgan over the simulated compounds, cached ------------------------------
molecules = write("molecules.exp", '''import std.data.{simulated_screen}
import std.sideinfo.{morgan, embedding_file}
import std.encoders.{SmallCNN, FingerprintMLP}
import std.objectives.{clip}
import std.optim.{adamw}

dataset screen = simulated_screen(seed = 3, plates = 4, holdout_plates = 2, perturbations = 8,
  compounds = 8, replicates = 2, controls = 2, sites = 1, image_size = 16, format = "jump")
side fp = morgan(screen.smiles, radius = 2, bits = 256)
side unused = embedding_file("no-such-file.csv", key = screen.perturbation, dim = 4)
encoder cells = SmallCNN(dim = 16)
encoder mols = FingerprintMLP(hidden = 32, layers = 2, out = 16)
objective align = clip(cells(screen.image), mols(fp))
''' + TRAIN)
p = exp_run("run", molecules, "--run-dir", os.path.join(work, "mol1"), "--threads", "2")
if "side: fp (morgan by smiles): 9 values x 256, computed" not in p.stderr:
    sys.exit(f"FAIL: the fingerprints were not computed:\n{p.stderr}")
if "unused" in p.stderr:
    sys.exit(f"FAIL: an unused side was featurised:\n{p.stderr}")
first = record("mol1")
if first["side_cache"] != {"hits": 0, "misses": 1} or [s["name"] for s in first["side"]] != ["fp"]:
    sys.exit(f"FAIL: the first run's side record: {first['side']} {first['side_cache']}")
p = exp_run("run", molecules, "--run-dir", os.path.join(work, "mol2"), "--threads", "2")
second = record("mol2")
if second["side_cache"] != {"hits": 1, "misses": 0} or "cached" not in p.stderr:
    sys.exit(f"FAIL: the second run did not hit the cache: {second['side_cache']}\n{p.stderr}")
if second["side"][0]["cache_key"] != first["side"][0]["cache_key"]:
    sys.exit("FAIL: the same input gave two cache keys")
if abs(second["train"]["final_loss"] - first["train"]["final_loss"]) > 1e-6:
    sys.exit("FAIL: cached fingerprints trained differently from computed ones")
print("morgan fingerprints of simulated compounds; the second run hits the cache: ok")

# --- cell-line vectors from the simulated screen's side files -----------------
for name, side in {
        "table": 'embedding_file("@data/side/cell_lines.csv", key = screen.cell_type, dim = 8)',
        "h5ad": 'transcriptome("@data/side/cell_lines.h5ad", key = screen.cell_type, dim = 4, pca = true)'}.items():
    path = write(f"lines_{name}.exp", f'''import std.data.{{simulated_screen}}
import std.sideinfo.{{embedding_file, transcriptome}}
import std.encoders.{{SmallCNN, MLP}}
import std.objectives.{{clip}}
import std.optim.{{adamw}}

dataset screen = simulated_screen(seed = 3, plates = 4, holdout_plates = 2, perturbations = 6,
  cell_lines = 2, replicates = 2, controls = 2, sites = 1, image_size = 16)
side lines = {side}
encoder cells = SmallCNN(dim = 16)
encoder context = MLP(hidden = 16, layers = 2, out = 16)
objective align = clip(cells(screen.image), context(lines))
''' + TRAIN)
    exp_run("run", path, "--run-dir", os.path.join(work, "lines_" + name), "--threads", "2")
    rec = record("lines_" + name)["side"][0]
    if rec["values"] != 2 or not rec["source"].endswith("cell_lines." + ("csv" if name == "table" else "h5ad")):
        sys.exit(f"FAIL: cell-line side `{name}`: {rec}")
    print(f"cell-line vectors from the simulated screen's {name}: ok")

# A table without one of the dataset's cell lines: the missing names.
table = os.path.join(work, "two_lines.csv")
with open(table, "w") as f:
    f.write("cell_line,a,b\nSIMA,1,2\nHELA,3,4\n")
with open(os.path.join(work, "lines_table.exp")) as f:
    text = f.read().replace('"@data/side/cell_lines.csv"', '"two_lines.csv"').replace("dim = 8", "dim = 2")
missing = write("missing.exp", text)
p = exp_run("run", missing, "--run-dir", os.path.join(work, "missing"), expect_ok=False)
if "1 of 2 names have no row: `SIMB`" not in p.stderr or "two_lines.csv" not in p.stderr:
    sys.exit(f"FAIL: a missing cell line was not named:\n{p.stderr}")
if os.path.exists(os.path.join(work, "missing")):
    sys.exit("FAIL: a failed run left a run directory")
print("a cell line missing from the table is named: ok")

# --- invalid structures: error, or drop and list ------------------------------
bray = os.path.join(work, "bray")
os.makedirs(os.path.join(bray, "npzs"))
smiles = ["CS(C)=O"] + ["C" * (k + 1) + "c1ccccc1" for k in range(30)] + ["C1CC"]
index = ["SAMPLE_KEY,PLATE_ID,WELL_POSITION,SITE,SMILES,CPD_NAME"]
for plate in ("P1", "P2"):
    for w, s in enumerate(smiles):
        key = f"{plate}-W{w:02d}-1"
        write_bray_site(os.path.join(bray, "npzs", key + ".npz"), 32, 32,
                        bytes((w * 11 + i) % 256 for i in range(32 * 32 * 5)))
        index.append(f"{key},{plate},W{w:02d},1,{s},{'DMSO' if w == 0 else f'cpd{w}'}")
with open(os.path.join(bray, "index.csv"), "w") as f:
    f.write("\n".join(index) + "\n")
spec = '''import std.data.{bray2017}
import std.sideinfo.{morgan}
import std.encoders.{SmallCNN, FingerprintMLP}
import std.objectives.{clip}
import std.optim.{adamw}

dataset screen = bray2017(path = "bray", image_size = 32)
side fp = morgan(screen.smiles, radius = 3, bits = 512, chiral = true, invalid = "POLICY")
encoder cells = SmallCNN(channels = 5, dim = 16)
encoder mols = FingerprintMLP(hidden = 32, layers = 2, out = 16)
objective align = clip(cells(screen.image), mols(fp))
''' + TRAIN
strict = write("bray_error.exp", spec.replace("POLICY", "error"))
p = exp_run("run", strict, "--run-dir", os.path.join(work, "bray_error"), expect_ok=False)
if "index.csv:33: not a valid SMILES `C1CC`" not in p.stderr or "unclosed ring" not in p.stderr:
    sys.exit(f"FAIL: an invalid SMILES was not named with its line:\n{p.stderr}")
lenient = write("bray_drop.exp", spec.replace("POLICY", "drop"))
p = exp_run("run", lenient, "--run-dir", os.path.join(work, "bray_drop"), "--threads", "2")
rec = record("bray_drop")["side"][0]
if rec["dropped_rows"] != 2 or len(rec["invalid"]) != 1 or "index.csv:33" not in rec["invalid"][0]:
    sys.exit(f"FAIL: `invalid = \"drop\"` did not drop and list the rows: {rec}")
if "2 rows dropped (invalid structures)" not in p.stderr:
    sys.exit(f"FAIL: the drop was not reported:\n{p.stderr}")
print("invalid SMILES: named with its line, or dropped and listed: ok")

# --- JUMP's layout: the SMILES comes from compound.csv.gz, not the site's row --
sim = write("jump_sim.exp", open(molecules).read().replace("image_size = 16", "image_size = 32, channels = 5"))
jump_data = os.path.join(work, "jump_data")
exp_run("simulate", sim, "-o", jump_data)
table = os.path.join(jump_data, "metadata", "compound.csv.gz")
with gzip.open(table, "rt", newline="") as f:
    rows = list(csv.reader(f))
bad = rows[3][0]  # the third compound (line 4)
rows[3][1] = "C1CC"
out = io.StringIO()
csv.writer(out, lineterminator="\n").writerows(rows)
with gzip.open(table, "wt", newline="") as f:
    f.write(out.getvalue())
spec = (spec.replace('bray2017(path = "bray", image_size = 32)', 'jump_cp(path = "jump_data", image_size = 32)')
        .replace("std.data.{bray2017}", "std.data.{jump_cp}"))
p = exp_run("run", write("jump_error.exp", spec.replace("POLICY", "error")),
            "--run-dir", os.path.join(work, "jump_error"), expect_ok=False)
want = f"compound.csv.gz:4 ({bad}), first used by "
if want not in p.stderr or "not a valid SMILES `C1CC`" not in p.stderr or "load_data" not in p.stderr:
    sys.exit(f"FAIL: an invalid SMILES of JUMP's compound table was not named there:\n{p.stderr}")
p = exp_run("run", write("jump_drop.exp", spec.replace("POLICY", "drop")),
            "--run-dir", os.path.join(work, "jump_drop"), "--threads", "2")
rec = record("jump_drop")["side"][0]
if len(rec["invalid"]) != 1 or want not in rec["invalid"][0]:
    sys.exit(f"FAIL: the dropped compound was not listed with its table line: {rec}")
print("invalid SMILES in JUMP's compound table: named with that table's line and compound: ok")
