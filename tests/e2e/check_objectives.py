#!/usr/bin/env python3
"""The objectives in a run (issue 9): a spec combining classification
(linear and ArcFace), the knowledge-graph prior, SupCon, SimCLR, CLOOB and
SigLIP trains on the simulated screen with finite, decreasing losses; the
knowledge graph maps the screen's genes through the reader's `gene` column
and the run prints and records its coverage; SimCLR without augmentations is
refused at compile time (E0610), before any run directory exists.
"""
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Check  # noqa: E402

check = Check(sys.argv)
exp, spec, work = check.exp, check.spec, check.work

run = os.path.join(work, "run")
p = check.run("run", spec, "--run-dir", run, "--threads", "2")
with open(os.path.join(run, "metrics.json")) as f:
    m = json.load(f)
loss = m["train"]["loss"]
assert all(math.isfinite(x) for x in m["train"]["step_loss"]), m["train"]["step_loss"]
assert loss[-1] < loss[0] - 0.3, f"the combined loss did not fall: {loss}"

# The knowledge graph: the 8 knock-downs' genes (the reader's `gene` column)
# are nodes of the simulated STRING/Hetionet files; the control and the
# compounds (no gene; `map = "compound_target"` is not in runs yet) are not.
kg = [s for s in m["side"] if s["name"] == "kg"]
assert kg and kg[0]["kind"] == "knowledge_graph" and kg[0]["values"] == 13, m["side"]
coverage = re.search(r"side: kg \(knowledge_graph over perturbation\): mapped (\d+) of (\d+)", p.stderr)
assert coverage, p.stderr
mapped, total = map(int, coverage.groups())
assert total == 13 and mapped >= 8, coverage.group(0)

# Neighbours from the other held-out plate find the same perturbation more
# often than with random embeddings.
nsb = m["evaluations"]["nsb"]
assert nsb["top3"] > nsb["random_embeddings"]["top3"] + 0.2, nsb

# SimCLR needs two different views: without `augment` it is refused.
text = open(spec).read()
no_aug = re.sub(r"\{\n  augment = [^\n]*\n\}", "", text)
assert no_aug != text
bad = os.path.join(work, "no_augment.exp")
with open(bad, "w") as f:
    f.write(no_aug)
p = check.run("run", bad, "--run-dir", os.path.join(work, "bad"), expect_ok=False)
assert "[E0610]" in p.stderr and "no_augment.exp:" in p.stderr, p.stderr
assert not os.path.exists(os.path.join(work, "bad")), "a refused spec left a run directory"
print(f"ok: loss {loss[0]:.3f} -> {loss[-1]:.3f}; kg {coverage.group(0)}; nsb top3 {nsb['top3']:.3f}")
