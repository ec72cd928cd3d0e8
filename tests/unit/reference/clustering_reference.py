#!/usr/bin/env python3
"""Reference values for tests/unit/ClusteringTest.cpp, written from the
published definitions with NumPy only (scikit-learn's adjusted_rand_score,
normalized_mutual_info_score and silhouette_samples; scIB's silhouette_batch
and graph_connectivity; harmonypy's compute_lisi). Run it to regenerate the
literals in the test."""
import math
import numpy as np

X = np.array([[0.0, 0.0], [0.3, 0.1], [0.1, 0.4], [0.5, 0.5],
              [3.0, 3.1], [3.4, 2.9], [2.8, 3.5], [3.3, 3.6],
              [0.2, 3.0], [0.6, 3.3], [0.1, 3.7], [2.0, 2.0]])
LABEL = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0])
BATCH = np.array([0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0])


def comb2(n):
    return n * (n - 1) / 2


def ari(a, b):
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    c = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(c, (ai, bi), 1)
    idx = comb2(c).sum()
    sa, sb = comb2(c.sum(1)).sum(), comb2(c.sum(0)).sum()
    exp = sa * sb / comb2(len(a))
    mx = (sa + sb) / 2
    return 1.0 if mx == exp else (idx - exp) / (mx - exp)


def nmi(a, b):
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    n = len(a)
    c = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(c, (ai, bi), 1)
    pa, pb = c.sum(1) / n, c.sum(0) / n
    mi = sum(c[i, j] / n * math.log(c[i, j] * n / (c[i].sum() * c[:, j].sum()))
             for i in range(c.shape[0]) for j in range(c.shape[1]) if c[i, j] > 0)
    h = lambda p: -sum(x * math.log(x) for x in p if x > 0)
    return mi / ((h(pa) + h(pb)) / 2)


def silhouette(x, lab):
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    s = np.zeros(len(x))
    for i in range(len(x)):
        own = lab == lab[i]
        if own.sum() == 1:
            continue
        a = d[i, own].sum() / (own.sum() - 1)
        b = min(d[i, lab == l].mean() for l in np.unique(lab) if l != lab[i])
        s[i] = (b - a) / max(a, b)
    return s


def silhouette_batch(x, lab, bat):
    means = []
    for l in np.unique(lab):
        m = lab == l
        nb = len(np.unique(bat[m]))
        if nb == 1 or nb == m.sum():
            continue
        means.append(np.mean(1 - np.abs(silhouette(x[m], bat[m]))))
    return np.mean(means)


def knn(x, k):
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d, idx, 1)


def graph_connectivity(idx, lab):
    res = []
    for l in np.unique(lab):
        nodes = np.where(lab == l)[0]
        parent = {i: i for i in nodes}
        def find(i):
            while parent[i] != i:
                i = parent[i]
            return i
        for i in nodes:
            for j in idx[i]:
                if lab[j] == l:
                    parent[find(i)] = find(j)
        roots = [find(i) for i in nodes]
        res.append(max(roots.count(r) for r in set(roots)) / len(nodes))
    return np.mean(res)


def lisi(idx, dist, lab, perplexity):
    out = []
    logU = np.log(perplexity)
    for i in range(len(idx)):
        d = dist[i]
        beta, bmin, bmax = 1.0, -np.inf, np.inf
        def kern(beta):
            P = np.exp(-d * beta)
            s = P.sum()
            if s == 0:
                return 0.0, np.zeros_like(P)
            return np.log(s) + beta * (d * P).sum() / s, P / s
        H, P = kern(beta)
        for _ in range(50):
            if abs(H - logU) < 1e-5:
                break
            if H - logU > 0:
                bmin = beta
                beta = beta * 2 if not np.isfinite(bmax) else (beta + bmax) / 2
            else:
                bmax = beta
                beta = beta / 2 if not np.isfinite(bmin) else (beta + bmin) / 2
            H, P = kern(beta)
        simpson = -1.0 if H == 0 else 0.0
        for l in np.unique(lab[idx[i]]):
            simpson += P[lab[idx[i]] == l].sum() ** 2
        out.append(1 / simpson)
    return np.array(out)


if __name__ == "__main__":
    print("ari([0,0,1,1],[0,0,1,2]) =", repr(ari([0, 0, 1, 1], [0, 0, 1, 2])))
    print("nmi([0,0,1,1],[0,0,1,2]) =", repr(nmi([0, 0, 1, 1], [0, 0, 1, 2])))
    print("ari([0,0,0,1,1,1],[0,0,1,1,2,2]) =", repr(ari([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])))
    print("nmi([0,0,0,1,1,1],[0,0,1,1,2,2]) =", repr(nmi([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])))
    s = silhouette(X, LABEL)
    print("silhouette =", [repr(v) for v in s])
    print("mean silhouette =", repr(s.mean()))
    print("silhouette_batch =", repr(silhouette_batch(X, LABEL, BATCH)))
    idx, dist = knn(X, 2)
    print("graph_connectivity k=2 =", repr(graph_connectivity(idx, LABEL)))
    idx, dist = knn(X, 5)
    print("lisi label p=2 k=5 =", [repr(v) for v in lisi(idx, dist, LABEL, 2.0)])
    print("lisi batch p=2 k=5 =", [repr(v) for v in lisi(idx, dist, BATCH, 2.0)])
