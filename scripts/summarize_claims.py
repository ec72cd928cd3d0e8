#!/usr/bin/env python3
"""Summarises scripts/claims.sh's runs as docs/results.md's tables.

    summarize_claims.py RUNS_DIR [CLAIM...]

For each claim (a folder of RUNS_DIR), one row per variant: the headline
metrics of every evaluation (mAP, top-k, recall@k), mean +- sample std over
the seeds' runs, and the untrained encoders' value beside it. Standard
library only.
"""
import json
import math
import os
import re
import sys
from collections import defaultdict


# The headline numbers of each metric (mAP, top-k, recall@k); the run's
# metrics.json has the rest.
HEADLINE = re.compile(r"map|top\d+|top@\d+|recall@\d+")


def scalars(evaluation):
    return {k: v for k, v in evaluation.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and HEADLINE.fullmatch(k)}


def mean_std(values):
    m = sum(values) / len(values)
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, s


def summarize(claim_dir):
    runs = defaultdict(list)  # variant -> [metrics.json]
    for name in sorted(os.listdir(claim_dir)):
        m = re.fullmatch(r"(.+)-seed(\d+)", name)
        path = os.path.join(claim_dir, name, "metrics.json")
        if m and os.path.exists(path):
            with open(path) as f:
                runs[m.group(1)].append(json.load(f))
    columns = []  # (evaluation, metric)
    for records in runs.values():
        for evaluation, e in records[0]["evaluations"].items():
            for metric in scalars(e):
                if (evaluation, metric) not in columns:
                    columns.append((evaluation, metric))
    lines = ["| variant | seeds | " + " | ".join(f"{e} {m}" for e, m in columns) + " |",
             "| --- | --- |" + " --- |" * len(columns)]
    for variant, records in runs.items():
        cells = []
        for evaluation, metric in columns:
            trained = [r["evaluations"][evaluation][metric] for r in records
                       if metric in r["evaluations"].get(evaluation, {})]
            untrained = [r["evaluations"][evaluation]["untrained"][metric] for r in records
                         if metric in r["evaluations"].get(evaluation, {}).get("untrained", {})]
            if not trained:
                cells.append("")
                continue
            m, s = mean_std(trained)
            cell = f"{m:.3f} ± {s:.3f}"
            if untrained:
                cell += f" (untrained {mean_std(untrained)[0]:.3f})"
            cells.append(cell)
        lines.append(f"| {variant} | {len(records)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    claims = sys.argv[2:] or sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    for claim in claims:
        claim_dir = os.path.join(root, claim)
        if not os.path.isdir(claim_dir):
            sys.exit(f"{claim_dir}: no runs (run scripts/claims.sh {claim})")
        print(f"### {claim}\n\n{summarize(claim_dir)}\n")


if __name__ == "__main__":
    main()
