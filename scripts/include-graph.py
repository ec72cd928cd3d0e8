#!/usr/bin/env python3
"""The include graph between the folders (stages) of a tree, from its sources.

Each `#include "STAGE/..."` in a file under ROOT/OTHER/ is an edge OTHER ->
STAGE when ROOT/STAGE exists. Prints every edge with the files that make it
and, for each cycle between folders (a strongly connected component of more
than one folder), the edges inside it; exits 1 when there is one.

    scripts/include-graph.py [ROOT]          (default: runtime)
    scripts/include-graph.py runtime --dot   (Graphviz)
"""
import collections
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^/"]+)/[^"]+"', re.M)


def graph(root):
    stages = {p.name for p in root.iterdir() if p.is_dir()}
    edges = collections.defaultdict(set)  # (a, b) -> files
    for path in root.rglob("*"):
        if path.suffix not in (".cpp", ".h", ".cu"):
            continue
        stage = path.relative_to(root).parts[0]
        for target in INCLUDE.findall(path.read_text(errors="replace")):
            if target in stages and target != stage:
                edges[(stage, target)].add(str(path.relative_to(root)))
    return stages, edges


def cycles(stages, edges):
    """Tarjan's strongly connected components with more than one stage."""
    succ = collections.defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(stages):
        if v not in index:
            visit(v)
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = pathlib.Path(args[0] if args else "runtime")
    stages, edges = graph(root)
    if "--dot" in sys.argv:
        print("digraph includes {")
        for a, b in sorted(edges):
            print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    for (a, b), files in sorted(edges.items()):
        print(f"{a} -> {b}  ({', '.join(sorted(files)[:3])}{', ...' if len(files) > 3 else ''})")
    found = cycles(stages, edges)
    for comp in found:
        inside = [f"{a} -> {b}" for a, b in sorted(edges) if a in comp and b in comp]
        print(f"cycle between {', '.join(comp)}: {'; '.join(inside)}")
    print(f"{len(edges)} edges between {len(stages)} folders of {root}; {len(found)} cycles")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
