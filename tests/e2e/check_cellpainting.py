#!/usr/bin/env python3
"""The `cellpainting` and `bray2017` sources end to end (issue 6): a
load_data CSV over the real LINCS Cell Painting PNGs in ../shared/data
(skipped when absent) trains and evaluates with two plates held out, and a
missing channel file stops the run naming the file and the CSV line; Bray
2017 sites written as CLOOME's .npz files run with the random and the
scaffold split, and an unparsable SMILES stops the scaffold split naming the
index line and RDKit's reason.
"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Check, real_source_spec, write_bray_site  # noqa: E402

check = Check(sys.argv)
exp, work, env = check.exp, check.work, check.env
exp_run = check.run
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
shared = os.environ.get("EXP_SHARED_DATA", os.path.join(root, "..", "shared", "data"))



def spec(name, call, block, column):
    return real_source_spec(os.path.join(work, name + ".exp"), call, block, column, epochs=3, batch=16)


# --- cellpainting: a load_data CSV over the real LINCS PNGs ------------------
lincs = os.path.join(shared, "lincs_images")
if not os.path.isdir(lincs):
    print(f"SKIP cellpainting on real LINCS images: {lincs} is absent")
else:
    channels = ["DNA", "RNA", "ER", "AGP", "Mito"]  # ch1..ch5, the upstream order
    header = ["Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_broad_sample"]
    for ch in channels:
        header += ["FileName_Orig" + ch, "PathName_Orig" + ch]
    rows = []
    with open(os.path.join(lincs, "well_metadata.csv")) as f:
        for w in csv.DictReader(f):
            folder = os.path.join(lincs, "images", w["Metadata_Plate"])
            stem = w["Metadata_row_col"] + "f01p01-ch"
            if not os.path.exists(os.path.join(folder, stem + "1sk1fk1fl1.png")):
                continue
            row = [w["Metadata_Plate"], w["Metadata_Well"], "1", w["Metadata_broad_sample"]]
            for k in range(len(channels)):
                row += [f"{stem}{k + 1}sk1fk1fl1.png", folder]
            rows.append(row)
    if len(rows) != 20:
        sys.exit(f"FAIL: expected 20 LINCS sites, found {len(rows)}")
    lincs_dir = os.path.join(work, "lincs")
    os.makedirs(lincs_dir)
    with open(os.path.join(lincs_dir, "load_data.csv"), "w", newline="") as f:
        csv.writer(f).writerows([header] + rows)
    path = spec("lincs", 'cellpainting(path = "lincs", metadata = "load_data.csv", image_size = 64)',
                ' {\n  hold_out = { plate = ["SQ00015232", "SQ00015233"] }\n}', "perturbation")
    p = exp_run("run", path, "--run-dir", os.path.join(work, "lincs_run"), "--threads", "2")
    if "data: cellpainting at" not in p.stderr or "replicates map" not in p.stdout:
        sys.exit(f"FAIL: cellpainting over the LINCS images did not run:\n{p.stdout}\n{p.stderr}")
    print("cellpainting over the real LINCS PNGs (two plates held out): ok")

    # A channel file that is not there: the file and the load_data line.
    rows[3][header.index("FileName_OrigMito")] = "missing.png"
    with open(os.path.join(lincs_dir, "load_data.csv"), "w", newline="") as f:
        csv.writer(f).writerows([header] + rows)
    p = exp_run("run", path, "--run-dir", os.path.join(work, "lincs_bad"), expect_ok=False)
    if "missing.png" not in p.stderr or "load_data.csv:5" not in p.stderr:
        sys.exit(f"FAIL: a missing channel file was not named with its line:\n{p.stderr}")
    if os.path.exists(os.path.join(work, "lincs_bad")):
        sys.exit("FAIL: a failed run left a run directory")
    print("cellpainting: a missing channel file named with its load_data line: ok")


# --- bray2017: CLOOME's index CSV and .npz sites ------------------------------
bray = os.path.join(work, "bray")
os.makedirs(os.path.join(bray, "npzs"))
# Three scaffolds (benzene, pyridine, cyclohexane) with ten substituents each.
scaffolds = ["c1ccccc1", "c1ccncc1", "C1CCCCC1"]
substituents = ["C", "CC", "O", "N", "Cl", "F", "C(=O)O", "OC", "N#C", "CCC"]
index = ["SAMPLE_KEY,PLATE_ID,WELL_POSITION,SITE,SMILES,CPD_NAME"]
n = 0
for plate in ("24278", "24279"):
    for well, (smiles, name) in enumerate([("CS(C)=O", "DMSO")] * 4 +
                                          [(sub + s, f"cpd{i}-{j}") for i, s in enumerate(scaffolds)
                                           for j, sub in enumerate(substituents)]):
        key = f"{plate}-W{well:02d}-1"
        fill = 3 * well
        write_bray_site(os.path.join(bray, "npzs", key + ".npz"), 40, 48,
                        bytes((fill + 7 * c + (i % 23)) % 256 for i in range(40 * 48) for c in range(5)))
        index.append(f"{key},{plate},W{well:02d},1,{smiles},{name}")
        n += 1
with open(os.path.join(bray, "index.csv"), "w") as f:
    f.write("\n".join(index) + "\n")
for split in ("random", "scaffold"):
    path = spec("bray_" + split, f'bray2017(path = "bray", image_size = 32, split = "{split}")', "", "compound")
    p = exp_run("run", path, "--run-dir", os.path.join(work, "bray_" + split), "--threads", "2")
    # 2 sites per compound: a held-out split may hold no replicate pair on
    # other plates, which the evaluation then says instead of a mAP of 0.
    if "data: bray2017 at" not in p.stderr or not ("replicates map" in p.stdout or
                                                   "replicates                   nothing to score" in p.stdout):
        sys.exit(f"FAIL: bray2017 (split = {split}) did not run:\n{p.stdout}\n{p.stderr}")
    print(f"bray2017 over CLOOME-style .npz sites, {split} split: ok")

# An unparsable SMILES: the scaffold split names the index line and RDKit's reason.
index[7] = index[7].replace(index[7].split(",")[4], "C1CC")
with open(os.path.join(bray, "index.csv"), "w") as f:
    f.write("\n".join(index) + "\n")
p = exp_run("run", os.path.join(work, "bray_scaffold.exp"), "--run-dir", os.path.join(work, "bray_bad"),
            expect_ok=False)
if "index.csv:8" not in p.stderr or "unclosed ring" not in p.stderr:
    sys.exit(f"FAIL: an unparsable SMILES was not reported with its line and reason:\n{p.stderr}")
print("bray2017: an unparsable SMILES named with its index line and RDKit's reason: ok")
