#!/usr/bin/env python3
"""Pretrained weights (issue 7): an encoder block's `weights =` loads a
safetensors file — here the checkpoint a first run left, whose encoder had
another name — into a frozen encoder, which then keeps exactly those values
through training; tensors the encoder does not take are reported in the run
record; a file written by hand with one mis-shaped tensor, or without one of
the encoder's tensors, stops the run naming them; never a pickle.
"""
import glob
import hashlib
import json
import math
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Check  # noqa: E402

check = Check(sys.argv)
exp, work, env = check.exp, check.work, check.env
exp_run = check.run



def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in header.items()}


def write_safetensors(path, tensors):
    header, blob = {}, b""
    for name, (shape, values) in tensors.items():
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)


def spec(name, encoder_block):
    path = os.path.join(work, name + ".exp")
    with open(path, "w") as f:
        f.write(f'''import std.data.{{simulated_screen}}
import std.encoders.{{SmallCNN, EmbeddingTable}}
import std.objectives.{{clip}}
import std.optim.{{adamw}}

dataset screen = simulated_screen(seed = 4, plates = 4, holdout_plates = 2, perturbations = 6,
  replicates = 2, controls = 2, sites = 1, image_size = 16)
encoder {encoder_block}
encoder perts = EmbeddingTable(dim = 16)
objective align = clip(backbone(screen.image), perts(screen.perturbation))
train main {{
  objective = align
  epochs = 2
  batch = 8
  optimizer = adamw(lr = 3e-3)
}}
''')
    return path


# A first run trains `backbone`, then a second starts `features` from its checkpoint.
first = spec("first", "backbone = SmallCNN(width = 8, depth = 2, dim = 16)")
exp_run("run", first, "--run-dir", os.path.join(work, "first"), "--threads", "2")
checkpoint = sorted(glob.glob(os.path.join(work, "first", "checkpoints", "step-*", "state.safetensors")))[-1]
shutil.copy(checkpoint, os.path.join(work, "pretrained.safetensors"))
second = spec("second", '''backbone = SmallCNN(width = 8, depth = 2, dim = 16) {
  weights = "pretrained.safetensors"
  frozen = true
}''')
p = exp_run("run", second, "--run-dir", os.path.join(work, "second"), "--threads", "2")
with open(os.path.join(work, "second", "metrics.json")) as f:
    record = json.load(f)["pretrained"]
loaded = read_safetensors(os.path.join(work, "pretrained.safetensors"))
backbone = sorted(k for k in loaded if k.startswith("param/backbone."))
if len(record) != 1 or record[0]["loaded"] != len(backbone) or not backbone:
    sys.exit(f"FAIL: the run record does not show the weights loaded: {record}")
with open(os.path.join(work, "pretrained.safetensors"), "rb") as f:
    if record[0]["sha256"] != hashlib.sha256(f.read()).hexdigest():
        sys.exit(f"FAIL: the recorded sha256 is not the file's, as sha256sum prints it: {record}")
if "param/perts.1.embedding.table" not in record[0]["unexpected"]:
    sys.exit(f"FAIL: tensors the encoder did not take are not reported: {record}")
if f"weights: {len(backbone)} tensors from" not in p.stderr:
    sys.exit(f"FAIL: the load was not reported:\n{p.stderr}")
after = read_safetensors(sorted(glob.glob(os.path.join(work, "second", "checkpoints", "step-*",
                                                       "state.safetensors")))[-1])
for name in backbone:
    if after[name] != loaded[name]:
        sys.exit(f"FAIL: the frozen, pretrained {name} differs from the weights file after training")
print(f"pretrained weights from a checkpoint: {len(backbone)} tensors loaded and kept frozen: ok")

# Hand-written files: the right names (relative to the encoder), one wrong shape; one tensor missing.
with open(os.path.join(work, "second", "plan.json")) as f:
    params = [q for q in json.load(f)["parameters"] if "weights" in q]
tensors = {q["weights"]["name"]: (q["shape"], [0.5] * math.prod(q["shape"])) for q in params}
bad = dict(tensors)
name = params[0]["weights"]["name"]
bad[name] = ([3, 3], [0.0] * 9)
write_safetensors(os.path.join(work, "pretrained.safetensors"), bad)
p = exp_run("run", second, "--run-dir", os.path.join(work, "misshaped"), expect_ok=False)
if f"`{name}` is [3, 3], the parameter `backbone.{name}` {params[0]['shape']}" not in p.stderr \
        or "[R0401]" not in p.stderr:
    sys.exit(f"FAIL: a mis-shaped tensor was not named with both shapes:\n{p.stderr}")
if os.path.exists(os.path.join(work, "misshaped")):
    sys.exit("FAIL: a failed run left a run directory")
missing = dict(tensors)
del missing[name]
write_safetensors(os.path.join(work, "pretrained.safetensors"), missing)
p = exp_run("run", second, "--run-dir", os.path.join(work, "missing"), expect_ok=False)
if f"no tensor for 1 of the encoder's {len(params)} parameters: `{name}`" not in p.stderr \
        or "[R0401]" not in p.stderr:
    sys.exit(f"FAIL: a missing tensor was not named:\n{p.stderr}")
# A weights file cut short: refused as unreadable, naming the file, and no run directory.
write_safetensors(os.path.join(work, "pretrained.safetensors"), tensors)
with open(os.path.join(work, "pretrained.safetensors"), "r+b") as f:
    f.truncate(os.path.getsize(os.path.join(work, "pretrained.safetensors")) // 2)
p = exp_run("run", second, "--run-dir", os.path.join(work, "cut"), expect_ok=False)
if "pretrained.safetensors" not in p.stderr or "[R0400]" not in p.stderr or os.path.exists(os.path.join(work, "cut")):
    sys.exit(f"FAIL: a truncated weights file was not refused as unreadable:\n{p.stderr}")
write_safetensors(os.path.join(work, "pretrained.safetensors"), tensors)
exp_run("run", second, "--run-dir", os.path.join(work, "handwritten"), "--threads", "2")
print("hand-written weights: loaded; a mis-shaped or missing tensor is named: ok")
