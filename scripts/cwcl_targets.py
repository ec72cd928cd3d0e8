#!/usr/bin/env python3
"""How informative CWCL's soft targets are over a frozen backbone's features.

    cwcl_targets.py FEATURES.safetensors [--batch 64]

FEATURES is a precomputed-features cache entry (`~/.cache/exp/features/*.
safetensors`, `output.0` of shape [rows, sites, channels, width]: what a
run of examples/cellclip.exp computes for its backbone). For a random batch
of rows, prints the mean channel-wise cosine between different wells and the
weight CWCL's image->text target, rownorm(mean_c cos(x_i^c, x_j^c) / 2 +
0.5), puts on each image's own text, beside uniform (1 / batch). Standard
library only (docs/results.md, claim 3).
"""
import argparse
import json
import math
import random
import struct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features")
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    raw = open(args.features, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    t = json.loads(raw[8:8 + n])["output.0"]
    N, M, C, D = t["shape"]
    off = 8 + n + t["data_offsets"][0]
    vals = struct.unpack("<%df" % (N * M * C * D), raw[off:off + 4 * N * M * C * D])
    random.seed(0)
    rows = random.sample(range(N), min(args.batch, N))
    B = len(rows)

    def pooled(r, c):  # the bag's mean, L2-normalised
        v = [sum(vals[((r * M + m) * C + c) * D + d] for m in range(M)) / M for d in range(D)]
        s = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / s for x in v]

    P = {(r, c): pooled(r, c) for r in rows for c in range(C)}
    cos = [[sum(sum(a * b for a, b in zip(P[(i, c)], P[(j, c)])) for c in range(C)) / C for j in rows]
           for i in rows]
    off_diag = [cos[a][b] for a in range(B) for b in range(B) if a != b]
    own = []
    for a in range(B):
        w = [c / 2 + 0.5 for c in cos[a]]
        own.append(w[a] / sum(w))
    print("channel-mean cosine between wells: mean %.3f, min %.3f" % (sum(off_diag) / len(off_diag), min(off_diag)))
    print("target weight on the matching text: mean %.4f (uniform %.4f, InfoNCE 1)" % (sum(own) / B, 1 / B))


if __name__ == "__main__":
    main()
