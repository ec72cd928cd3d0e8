#!/usr/bin/env python3
"""`exp eval` (issue 8): a site-level profile table goes through the spec's
stages (aggregation to wells, robust MAD, feature selection, sphering) and
its evaluations; the output directory holds metrics.json, the per-group CSV
and the report. On BBBC021 (../shared/data) the mAP and fraction retrieved
equal copairs' reference. Bad input of each kind is refused with the file
and place, a non-zero exit and no output directory."""
import csv
import json
import os
import random
import shutil
import sys

from e2e_util import Check

c = Check(sys.argv)
work = c.work


def fail(msg):
    sys.exit("FAIL: " + msg)


# --- a synthetic screen: 4 plates x (8 compounds + 4 DMSO wells) x 3 sites --
rng = random.Random(5)
features = [f"Cells_F{i}" for i in range(12)]
effects = {f"cpd{k}": [rng.gauss(0, 3) for _ in features] for k in range(8)}
plate_shift = [[rng.gauss(0, 1) for _ in features] for _ in range(4)]
table = os.path.join(work, "sites.csv")
with open(table, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_Compound", "Metadata_Dose",
                "Metadata_MoA"] + features)
    for plate in range(4):
        wells = [(f"cpd{k}", "1.0", f"moa{k % 2}") for k in range(8)] + [("DMSO", "0", "control")] * 4
        for i, (cpd, dose, moa) in enumerate(wells):
            for site in range(3):
                x = [plate_shift[plate][j] + rng.gauss(0, 0.5) + (effects[cpd][j] if cpd != "DMSO" else 0)
                     for j in range(len(features))]
                w.writerow([f"P{plate}", f"W{i:02d}", site, cpd, dose, moa] + [f"{v:.6f}" for v in x])

out = os.path.join(work, "out")
p = c.run("eval", table, "--spec", c.spec, "-o", out, "--threads", "2")
m = json.load(open(os.path.join(out, "metrics.json")))
stages = m["stages"]
if [s["kind"] for s in stages] != ["aggregate", "robust_mad", "feature_select", "sphere"]:
    fail(f"stages ran as {[s['kind'] for s in stages]}")
if stages[0]["rows"] != [144, 48]:
    fail(f"aggregation to wells gave {stages[0]['rows']} rows, expected 144 -> 48")
ev = m["evaluations"]
rep = ev["replicates"]
if rep["groups"] != 8 or rep["queries"] != 32:
    fail(f"replicate_map scored {rep['groups']} groups / {rep['queries']} queries, expected 8 / 32")
if not (rep["map"] > 0.9 and rep["fraction_retrieved"] == 1.0):
    fail(f"strong compounds are not retrieved: mAP {rep['map']}, fraction {rep['fraction_retrieved']}")
if not ev["neighbours"]["top3"] > 0.9:
    fail(f"kNN top3 {ev['neighbours']['top3']}")
cl = ev["mechanisms"]
if cl["labels"] != 3 or cl["batches"] != 4:
    fail(f"clustering saw {cl['labels']} mechanisms and {cl['batches']} plates, expected 3 and 4")
rows = list(csv.reader(open(os.path.join(out, "replicates_groups.csv"))))
if rows[0] != ["perturbation", "mean_average_precision", "corrected_p_value"] or \
        sorted(r[0] for r in rows[1:]) != sorted(f"cpd{k}@1.0" for k in range(8)):
    fail(f"replicates_groups.csv: {rows[:3]}")
if not os.path.isfile(os.path.join(out, "report.html")):
    fail("no report.html")
if "replicates map" not in p.stdout:
    fail(f"the scores were not printed:\n{p.stdout}")
print("stages and metrics over a site table, outputs written: ok")

# The same spec, the same seed: the same numbers.
p = c.run("eval", table, "--spec", c.spec, "-o", os.path.join(work, "again"), "--threads", "1")
again = json.load(open(os.path.join(work, "again", "metrics.json")))


def close(a, b, path=""):
    """Equal, numbers to 1e-9 relative (threaded BLAS sums in another order)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], path + "/" + k) for k in a)
    if isinstance(a, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


if not close(again["evaluations"], ev):
    fail("a second evaluation with one thread gave other numbers")
print("the same numbers with 1 and 2 threads: ok")

# --- BBBC021 against copairs' reference ----------------------------------------
shared = os.environ.get("EXP_SHARED_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                           "shared", "data")
bbbc = os.path.join(shared, "bbbc021_profiles", "BBBC021_feature_selected_mad_robustize.csv.gz")
if os.path.exists(bbbc):
    spec = os.path.join(work, "bbbc021.exp")
    open(spec, "w").write('''import std.profiles.{profiles}
import std.eval.{replicate_map}
dataset wells = profiles("t.csv", perturbation = ["Metadata_Compound", "Metadata_Concentration"])
evaluate replicates = replicate_map(wells.features, sameby = wells.perturbation, diffby = wells.plate)
''')
    c.run("eval", bbbc, "--spec", spec, "-o", os.path.join(work, "bbbc021"))
    r = json.load(open(os.path.join(work, "bbbc021", "metrics.json")))["evaluations"]["replicates"]
    ref = list(csv.DictReader(open(os.path.join(shared, "bbbc021_profiles", "reference_replicate_map.csv"))))
    want_map = sum(float(x["mean_average_precision"]) for x in ref) / len(ref)
    want_frac = sum(x["below_corrected_p"] == "True" for x in ref) / len(ref)
    if r["groups"] != len(ref) or abs(r["map"] - want_map) > 1e-9:
        fail(f"BBBC021 mAP {r['map']} over {r['groups']} groups; copairs {want_map} over {len(ref)}")
    if abs(r["fraction_retrieved"] - want_frac) > 2 / len(ref):
        fail(f"BBBC021 fraction retrieved {r['fraction_retrieved']}, copairs {want_frac}")
    print(f"BBBC021: mAP {r['map']:.4f} = copairs, fraction retrieved {r['fraction_retrieved']:.4f}: ok")
else:
    print("SKIP: ../shared/data/bbbc021_profiles is absent")


# --- bad input -------------------------------------------------------------------
def refused(args, *needles, spec_text=None):
    spec = c.spec
    if spec_text is not None:
        spec = os.path.join(work, "bad.exp")
        open(spec, "w").write(spec_text)
    target = os.path.join(work, "refused")
    p = c.run("eval", *args, "--spec", spec, "-o", target, expect_ok=False)
    for n in needles:
        if n not in p.stderr:
            fail(f"`{n}` missing from the error:\n{p.stderr}")
    if os.path.exists(target) or os.path.exists(target + ".partial"):
        fail(f"a refused evaluation left {target}")


base = open(c.spec).read()
refused([table], "sites.csv", "Metadata_Nope", "for `plate`", "[R0602]",
        spec_text=base.replace('label = "Metadata_MoA"', 'label = "Metadata_MoA", plate = "Metadata_Nope"'))
corrupt = os.path.join(work, "corrupt.csv")
lines = open(table).read().splitlines()
lines[5] = lines[5].rsplit(",", 1)[0] + ",oops"
open(corrupt, "w").write("\n".join(lines) + "\n")
refused([corrupt], "corrupt.csv:6", "Cells_F11", "oops", "[R0601]")
# Infinities are not missing values: refused with their place, not passed to
# the stages (issue 31: they ended in an internal error).
clean = open(table).read().splitlines()
for k, cell in enumerate(["inf", "-Infinity", "1e999"]):
    infinite = os.path.join(work, f"infinite{k}.csv")
    bad = list(clean)
    bad[3 + k] = bad[3 + k].rsplit(",", 1)[0] + "," + cell
    open(infinite, "w").write("\n".join(bad) + "\n")
    refused([infinite], f"infinite{k}.csv:{4 + k}", f"holds `{cell}`, not a finite number", "[R0601]")
# A column named twice, and a NUL byte inside a row (which once lost the
# rest of its row without a word): refused with the place.
twice = os.path.join(work, "twice.csv")
header = clean[0].split(",")
open(twice, "w").write(",".join(header[:-1] + [header[6]]) + "\n" + "\n".join(clean[1:]) + "\n")
refused([twice], f"twice.csv:1: column `{header[6]}` is named twice (columns 7 and {len(header)})", "[R0601]")
nul = os.path.join(work, "nul.csv")
open(nul, "w").write("\n".join(clean[:8] + [clean[8][:20] + "\0" + clean[8][20:]] + clean[9:]) + "\n")
refused([nul], "nul.csv:9: a NUL byte", "[R0601]")
# Nothing to score is said, not reported as mAP 0 or top-k 0 (issue 31).
refused([table], "evaluation `replicates`: nothing to score: no row has a replicate", "[R0800]",
        spec_text=base.replace("diffby = wells.plate", "diffby = wells.perturbation"))
refused([table], "evaluation `neighbours`: nothing to score: no treated row has a row of its label", "[R0800]",
        spec_text=base.replace("exclude_same = wells.plate", "exclude_same = wells.perturbation"))
spreadsheet = os.path.join(work, "sites.xlsx")
shutil.copy(table, spreadsheet)
refused([spreadsheet], "sites.xlsx: unknown profile format", "[R0603]")
refused([table], "no control rows", "[R0800]", spec_text=base.replace('label = "Metadata_MoA"',
                                                           'label = "Metadata_MoA", controls = ["vehicle"]'))
# Aggregating by plate mixes perturbations: refused rather than guessed.
refused([table], "stage `robust_mad`", "rows no longer have one `control`", "[R0800]",
        spec_text=base.replace('aggregate(by = ["plate", "well"], method = "mean")', 'aggregate(by = ["plate"])'))
refused([table], "bad.exp:", "zero_shot", spec_text=base.replace(
    "import std.eval.{replicate_map, knn_retrieval, clustering}",
    "import std.eval.{replicate_map, knn_retrieval, clustering, zero_shot}") +
    "evaluate zs = zero_shot(wells.features, wells.features, wells.perturbation)\n")
p = c.run("eval", table, "--spec", c.spec, "-o", out, expect_ok=False)
if "already exists" not in p.stderr or "[R0700]" not in p.stderr:
    fail(f"an existing output directory was not refused:\n{p.stderr}")
print("bad tables, columns and specs are refused with their place, nothing written: ok")

# --- EFAAR known-relationship recall from a gene-pair file -------------------------
# 24 genes in 12 pairs sharing an effect, on 3 plates with 6 empty-vector
# controls; the annotation lists every pair (and one gene the table lacks).
# The expected recall is computed here from the definition: mean profile per
# gene, the cosine of every gene pair as the null, NumPy's linear percentile.
rng = random.Random(2)
genes = [f"G{i:02d}" for i in range(24)]
module = {g: i // 2 for i, g in enumerate(genes)}
effect = {m: [rng.gauss(0, 1) for _ in range(16)] for m in range(12)}
gene_table = os.path.join(work, "genes.csv")
sums = {g: [0.0] * 16 for g in genes}
with open(gene_table, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["Metadata_Plate", "Metadata_Well", "Metadata_Gene"] + [f"F{i}" for i in range(16)])
    for plate in range(3):
        for i, g in enumerate(genes + ["EMPTY"] * 6):
            x = [float(f"{rng.gauss(0, 1.0) + (effect[module[g]][j] if g != 'EMPTY' else 0):.5f}")
                 for j in range(16)]
            if g != "EMPTY":
                sums[g] = [a + b for a, b in zip(sums[g], x)]
            w.writerow([f"P{plate}", f"W{i:02d}", g] + [f"{v:.5f}" for v in x])
with open(os.path.join(work, "pairs.csv"), "w") as f:
    f.write("entity1,entity2\n" + "".join(f"{genes[i]},{genes[i + 1]}\n" for i in range(0, 24, 2)) + "G00,NOTHERE\n")
spec = os.path.join(work, "genes.exp")
open(spec, "w").write('''import std.profiles.{profiles}
import std.sideinfo.{knowledge_graph, gene_pairs}
import std.eval.{efaar_recall}
dataset kd = profiles("genes.csv", perturbation = ["Metadata_Gene"], gene = "Metadata_Gene", controls = ["EMPTY"])
evaluate known = efaar_recall(kd.features, kd.gene,
  graph = knowledge_graph(nodes = kd.gene, sources = [gene_pairs("pairs.csv")]))
''')
c.run("eval", "--spec", spec, "-o", os.path.join(work, "efaar"))
got = json.load(open(os.path.join(work, "efaar", "metrics.json")))["evaluations"]["known"]


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / (sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5


def percentile(v, q):
    v = sorted(v)
    pos = q / 100 * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


mean = {g: [s / 3 for s in sums[g]] for g in genes}
null = [cosine(mean[a], mean[b]) for i, a in enumerate(genes) for b in genes[i + 1:]]
known = [cosine(mean[genes[i]], mean[genes[i + 1]]) for i in range(0, 24, 2)]
for lo, hi in ((5, 95), (10, 90)):
    a, b = percentile(null, lo), percentile(null, hi)
    want = sum(k <= a or k >= b for k in known) / len(known)
    if abs(got[f"recall_{lo}_{hi}"] - want) > 1e-9:
        fail(f"EFAAR recall {lo}/{hi}: {got[f'recall_{lo}_{hi}']}, the definition gives {want}")
if got["pairs"] != 12 or got["genes"] != 24:
    fail(f"EFAAR used {got['pairs']} pairs over {got['genes']} genes, expected 12 over 24")
print(f"EFAAR recall from a gene-pair file equals its definition "
      f"({got['recall_5_95']:.3f} at 5/95, {got['recall_10_90']:.3f} at 10/90): ok")
