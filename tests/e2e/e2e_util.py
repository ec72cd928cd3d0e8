"""Shared by the end-to-end checks: the command line every check takes (the
`exp` binary, a spec, a fresh work directory with its own cache), running
`exp` with an expected outcome, and writing the real formats the tests
build by hand (CLOOME's .npy inside .npz)."""
import os
import shutil
import struct
import subprocess
import sys
import zipfile


class Check:
    def __init__(self, argv):
        self.exp, self.spec, self.work = argv[1:4]
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.env = {**os.environ, "EXP_CACHE_DIR": os.path.join(self.work, "cache")}

    def run(self, *args, expect_ok=True):
        """`exp ARGS`; exits the check when its success is not `expect_ok`."""
        p = subprocess.run([self.exp, *args], capture_output=True, text=True, env=self.env)
        if (p.returncode == 0) != expect_ok:
            sys.exit(f"FAIL: exp {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p


def npy_uint8(shape, data):
    """A C-ordered uint8 .npy file of `shape` holding `data` (bytes)."""
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (%s), }" % ", ".join(map(str, shape))
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def write_bray_site(path, height, width, data):
    """One Bray 2017 site as CLOOME stores it: `sample` (H x W x 5 uint8) in an .npz."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("sample.npy", npy_uint8((height, width, 5), data))


def real_source_spec(path, call, block, column, epochs, batch):
    """Writes a spec that trains a small CNN against an embedding of `column`
    on the dataset `call` (a real source's call, with its `block`) and
    evaluates replicate mAP on the held-out rows; returns `path`."""
    source = call.split("(")[0]
    with open(path, "w") as f:
        f.write(f'''import std.data.{{{source}}}
import std.encoders.{{SmallCNN, EmbeddingTable}}
import std.objectives.{{clip}}
import std.optim.{{adamw}}
import std.eval.{{replicate_map}}

dataset d = {call}{block}
encoder cells = SmallCNN(channels = d.image.channels, width = 16, depth = 2, dim = 32)
encoder perts = EmbeddingTable(classes = 64, dim = 32)
objective align = clip(cells(d.image), perts(d.{column}), temperature = 0.1)
train main {{
  objective = align
  epochs = {epochs}
  batch = {batch}
  optimizer = adamw(lr = 3e-3)
}}
evaluate replicates = replicate_map(cells(d.held_out.image), sameby = d.held_out.{column},
  diffby = d.held_out.plate)
''')
    return path
