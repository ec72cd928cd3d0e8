#!/usr/bin/env python3
"""Evaluations in runs (issue 8): zero_shot, knn_retrieval and clustering
report their numbers beside replicate_map for the trained model and both
baselines; the trained model beats random embeddings on each, every number is
in its metric's range, and an evaluation whose labels come from the training
split while its images are held out is refused at check time with its place."""
import json
import os
import sys

from e2e_util import Check

c = Check(sys.argv)


def fail(msg):
    sys.exit("FAIL: " + msg)


run = os.path.join(c.work, "run")
c.run("run", c.spec, "--run-dir", run, "--threads", "2")
metrics = json.load(open(os.path.join(run, "metrics.json")))
trained = metrics["evaluations"]
random = {name: e["random_embeddings"] for name, e in trained.items()}

zs = trained["zs"]
candidates = zs["candidates"]
if candidates != 12:
    fail(f"zero_shot ranks {candidates} molecules, expected the 12 held-out compounds")
for k in (1, 5):
    for key in (f"top@{k}", f"reverse_top@{k}"):
        if not 0 <= zs[key] <= 1:
            fail(f"zs {key} = {zs[key]} is not a share")
# Chance top@1 is 1/12; the trained model must be well above it and above
# random embeddings.
if not (zs["top@1"] > 3 / 12 and zs["top@1"] > random["zs"]["top@1"]):
    fail(f"zero-shot top@1 {zs['top@1']} (random {random['zs']['top@1']}) is not above chance")
if not 1 <= zs["median_rank"] <= zs["mean_rank"] * 2:
    fail(f"zero-shot ranks are inconsistent: {zs}")

nsb = trained["nsb"]
if not (nsb["top3"] > random["nsb"]["top3"] and nsb["queries"] > 0):
    fail(f"kNN retrieval top3 {nsb['top3']} is not above random {random['nsb']['top3']}")

cl = trained["clusters"]
for key in ("ari", "nmi", "silhouette_label", "silhouette_batch", "graph_connectivity"):
    if not -1 <= cl[key] <= 1:
        fail(f"clustering {key} = {cl[key]} is out of range")
for key, classes in (("ilisi", cl["batches"]), ("clisi", cl["labels"])):
    if not 1 <= cl[key] <= classes + 1e-9:
        fail(f"clustering {key} = {cl[key]} is not between 1 and {classes}")
if cl["labels"] != 13 or cl["batches"] != 3:
    fail(f"clustering saw {cl['labels']} labels and {cl['batches']} plates, expected 13 and 3")
if not (cl["ari"] > random["clusters"]["ari"] and cl["nmi"] > random["clusters"]["nmi"]):
    fail(f"clustering ARI/NMI {cl['ari']}/{cl['nmi']} not above random "
         f"{random['clusters']['ari']}/{random['clusters']['nmi']}")
print("zero_shot, knn_retrieval, clustering in a run, above random: ok")

# Labels of the training rows cannot score held-out embeddings.
spec = open(c.spec).read().replace("screen.held_out.perturbation, top", "screen.perturbation, top")
bad = os.path.join(c.work, "train_labels.exp")
open(bad, "w").write(spec)
p = c.run("check", bad, expect_ok=False)
line = next(i for i, text in enumerate(spec.splitlines(), 1) if "screen.perturbation, top" in text)
if f"train_labels.exp:{line}:" not in p.stderr or "mixes columns of datasets" not in p.stderr:
    fail(f"training-split labels were not refused with a place:\n{p.stderr}")
if os.path.exists(os.path.join(c.work, "train_labels")):
    fail("a refused spec left output")
print("labels from the training split are refused: ok")

# A one-shot linear probe on the held-out wells: above random embeddings
# (chance is 1/13), with a spread over its 3 seeds.
fs = trained["one_shot"]
if not (fs["classes"] == 13 and fs["train_rows"] == 13 and len(fs["epochs_trained"]) == 3):
    fail(f"few_shot split: {fs}")
if not (fs["top1"] > 2 * random["one_shot"]["top1"] and fs["top1"] > 2 / 13 and fs["top3"] >= fs["top1"]):
    fail(f"one-shot top1 {fs['top1']} (random {random['one_shot']['top1']}) is not above chance")
if not 0 <= fs["top1_std"] < 0.5:
    fail(f"one-shot top1_std {fs['top1_std']}")
print("one-shot linear probe above chance: ok")

# Fine-tuning the encoder inside few_shot is refused where it is asked for.
spec = open(c.spec).read().replace("finetune = false", "finetune = true")
bad = os.path.join(c.work, "finetune.exp")
open(bad, "w").write(spec)
p = c.run("compile", bad, "--no-cache", expect_ok=False)
if "finetune.exp:" not in p.stderr or "finetune = false" not in p.stderr or "E0602" not in p.stderr:
    fail(f"few_shot fine-tuning was not refused at its place:\n{p.stderr}")
print("few_shot fine-tuning is refused with its place: ok")
