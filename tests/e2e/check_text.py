#!/usr/bin/env python3
"""Text side information in runs (issue 9, CellCLIP's text side): prompts
rendered per row from a template over the metadata, WordPiece-tokenised once
with the simulated screen's vocabulary, train a BERT-style encoder against
images; held-out image->prompt recall beats the untrained encoders. A
missing vocabulary, one larger than the token table, one without its special
tokens, and prompts cut to `length` are each named, and a refused run leaves
no run directory.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Check  # noqa: E402

check = Check(sys.argv)
exp, spec, work = check.exp, check.spec, check.work

with open(spec) as f:
    source = f.read()


def variant(name, old, new):
    assert old in source, old
    path = os.path.join(work, name + ".exp")
    with open(path, "w") as f:
        f.write(source.replace(old, new))
    return path


run = os.path.join(work, "run")
p = check.run("run", spec, "--run-dir", run, "--threads", "2")
m = re.search(r"side: prompts \(text\): (\d+) prompts x 64 tokens", p.stderr)
# 16 compounds and the control, on one cell line: 17 distinct prompts.
if not m or m.group(1) != "17":
    sys.exit(f"FAIL: the prompts were not tokenised as expected:\n{p.stderr}")
with open(os.path.join(run, "metrics.json")) as f:
    metrics = json.load(f)
sides = {s["name"]: s for s in metrics["side"]}
if sides.get("prompts", {}).get("kind") != "text" or not sides["prompts"]["source"].endswith("side/vocab.txt"):
    sys.exit(f"FAIL: the run record's text side: {metrics['side']}")
r = metrics["evaluations"]["retrieval"]
trained, untrained = r["recall@5"], r["untrained"]["recall@5"]
print(f"held-out image->prompt recall@5: trained {trained:.3f}, untrained {untrained:.3f}")
if trained < untrained + 0.2:
    sys.exit("FAIL: training on prompts did not lift recall@5 by 0.2 over the untrained encoders")
print("images aligned with tokenised prompts: ok")

# Prompts longer than `length` are cut (keeping [SEP]) and the run says so.
short = variant("short", "length = 64", "length = 8")
p = check.run("run", short, "--run-dir", os.path.join(work, "short"), "--threads", "2")
with open(os.path.join(work, "short", "metrics.json")) as f:
    recorded = {s["name"]: s["truncated"] for s in json.load(f)["side"]}
if "17 prompts x 8 tokens, 17 truncated to `length`" not in p.stderr or recorded.get("prompts") != 17:
    sys.exit(f"FAIL: truncation was not reported and recorded:\n{p.stderr}\n{recorded}")
print("prompts cut to `length` are reported: ok")

# Refusals: each names the file and leaves no run directory.
vocab = os.path.join(work, "vocab.txt")
with open(vocab, "w") as f:
    f.write("[PAD]\n[CLS]\n[SEP]\ncells\n")
for name, old, new, expected in [
        ("missing", '"@data/side/vocab.txt"', '"no-such-vocab.txt"', "no-such-vocab.txt"),
        ("small_table", "vocab = 512", "vocab = 64", "but the text encoder's token table has `vocab = 64` rows"),
        ("no_unk", '"@data/side/vocab.txt"', '"vocab.txt"', "vocab.txt")]:
    path = variant(name, old, new)
    out = os.path.join(work, name)
    p = check.run("run", path, "--run-dir", out, expect_ok=False)
    if expected not in p.stderr or not re.search(r"side information `(held_out_)?prompts`", p.stderr):
        sys.exit(f"FAIL: `{name}` was not refused by name:\n{p.stderr}")
    if os.path.exists(out):
        sys.exit(f"FAIL: the refused `{name}` run left a run directory")
    print(f"{name}: {p.stderr.strip().splitlines()[-1]}")
print("a missing, too-large or incomplete vocabulary is refused by name: ok")
