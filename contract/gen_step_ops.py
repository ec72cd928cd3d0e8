#!/usr/bin/env python3
"""The plan contract's op table, generated from the step dialect's ODS.

Reads `llvm-tblgen --dump-json` of compiler/dialects/step/StepOps.td and
writes StepOps.inc: one EXP_STEP_OP(...) line per op that a plan graph
carries (a step op with results and no regions: what the emitter writes into
a graph's `ops` and the runtime runs as a kernel), with its operand count,
whether the operands are variadic, its attribute names and its Elementwise
and RowWise traits. The module-level directives (parameter, source,
train_loop, evaluate, precompute) and the fusion op's structure are read by
the plan loader's own fields, not as ops.

    gen_step_ops.py DUMP.json OUT.inc
"""
import json
import sys


def classify(records, arg_def):
    """'operand', 'variadic' or 'attribute' for one `ins` argument."""
    supers = records[arg_def].get("!superclasses", [])
    if "Variadic" in supers:
        return "variadic"
    if "TypeConstraint" in supers:
        return "operand"
    if "Attr" in supers or "AttrConstraint" in supers:
        return "attribute"
    raise SystemExit(f"gen_step_ops: argument of kind `{arg_def}` is neither an operand nor an attribute")


def main():
    dump, out = sys.argv[1], sys.argv[2]
    records = json.load(open(dump))
    rows = []
    for name in sorted(records["!instanceof"]["Step_Op"]):
        r = records[name]
        if not r["results"]["args"] or r.get("regions", {}).get("args"):
            continue  # a directive or structure, not a graph op
        operands, variadic, attrs = 0, False, []
        for arg, arg_name in r["arguments"]["args"]:
            kind = classify(records, arg["def"])
            if kind == "attribute":
                attrs.append(arg_name)
            else:
                operands += 1
                variadic |= kind == "variadic"
        traits = {t["def"] for t in r["traits"]}
        rows.append((r["opName"], 0 if variadic else operands, variadic, attrs,
                     "Step_Elementwise" in traits, "Step_RowWise" in traits))
    with open(out, "w") as f:
        f.write("// Generated from compiler/dialects/step/StepOps.td by contract/gen_step_ops.py;\n"
                "// do not edit. EXP_STEP_OP(name, operands, variadic, attributes, elementwise, rowwise):\n"
                "// `operands` is 0 when variadic; `attributes` is a comma-separated list.\n")
        for name, n, var, attrs, elem, row in sorted(rows):
            f.write(f'EXP_STEP_OP("{name}", {n}, {str(var).lower()}, "{",".join(attrs)}", '
                    f'{str(elem).lower()}, {str(row).lower()})\n')


if __name__ == "__main__":
    main()
