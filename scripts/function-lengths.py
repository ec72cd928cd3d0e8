#!/usr/bin/env python3
"""Function lengths in the C++ sources, longest first.

A function here is a definition that starts at column 0 (namespace-scope
functions and out-of-line members, the project's style) and ends at the
matching `}` at column 0; its length counts its lines from the signature's
first line to the closing brace. Comments and strings are skipped when
matching braces. Lambdas count towards the function that holds them.

    scripts/function-lengths.py [--max N] [DIR ...]   (default: compiler runtime tools)

With --max N, exits 1 when a function is longer than N lines, listing them.
"""
import argparse
import pathlib
import re
import sys

START = re.compile(r"^(?!namespace\b|struct\b|class\b|enum\b|union\b|extern\b|template\s*<[^>]*>\s*(struct|class)\b"
                   r"|using\b|typedef\b|#|//|/\*|\}|\{)[A-Za-z_~].*")


def strip(line, state):
    """`line` without comments and string/char literals; `state` carries /* */."""
    out, i = [], 0
    while i < len(line):
        if state["block"]:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out)
            state["block"], i = False, end + 2
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"], i = True, i + 2
            continue
        if c in "\"'":
            j = i + 1
            while j < len(line) and line[j] != c:
                j += 2 if line[j] == "\\" else 1
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def functions(path):
    lines = path.read_text(errors="replace").split("\n")
    state = {"block": False}
    code = [strip(l, state) for l in lines]
    i = 0
    while i < len(lines):
        if START.match(lines[i]) and not lines[i].rstrip().endswith(";"):
            # the signature may span lines; the body opens at the first '{'
            j, depth, opened = i, 0, False
            while j < len(lines):
                for ch in code[j]:
                    if ch == "{":
                        depth, opened = depth + 1, True
                    elif ch == "}":
                        depth -= 1
                if opened and depth <= 0:
                    break
                if not opened and code[j].rstrip().endswith(";"):
                    break
                j += 1
            if opened and "(" in "".join(code[i:j + 1]).split("{")[0]:
                name = re.sub(r"\s+", " ", lines[i].strip())[:90]
                yield name, i + 1, j - i + 1
                i = j
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int)
    ap.add_argument("dirs", nargs="*", default=["compiler", "runtime", "tools"])
    args = ap.parse_args()
    rows = []
    for d in args.dirs:
        for p in sorted(pathlib.Path(d).rglob("*")):
            if p.suffix in (".cpp", ".h", ".cu"):
                rows += [(n, str(p), line, name) for name, line, n in functions(p)]
    rows.sort(reverse=True)
    long = [r for r in rows if args.max and r[0] > args.max]
    for n, path, line, name in (long if args.max else rows[:30]):
        print(f"{n:5d}  {path}:{line}  {name}")
    if args.max:
        print(f"{len(long)} of {len(rows)} functions are longer than {args.max} lines")
        return 1 if long else 0
    print(f"{len(rows)} functions; the longest {min(30, len(rows))} above")
    return 0


if __name__ == "__main__":
    sys.exit(main())
