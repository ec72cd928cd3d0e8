#!/bin/sh
# check_gpu_training.sh EXP SRC WORK: trains tests/lit/driver/run-networks.exp
# (convolutions, a residual group with a generated kernel, the fused CLIP
# loss, AdamW: CUDA graphs after step 3) on the CPU and on cuda:0 from the
# same seed, and compares the per-step losses and the final mAP. Exit 77 =
# skipped (a CPU-only LibTorch, or no GPU).
set -e
# With PLANS set (the GPU kit, scripts/gpu/), EXP may be the runner exp-run
# and both runs take the kit's compiled plan (on the CPU its kernels are
# unused); DEVICE (default cuda) is the device compared with the CPU.
exp=$1 src=$2 work=$3
device=${DEVICE:-cuda}
rm -rf "$work" && mkdir -p "$work"
spec=${PLANS:+$PLANS/networks.cuda.json}
spec=${spec:-$src/tests/lit/driver/run-networks.exp}
if ! "$exp" run "$spec" --no-cache -q --device "$device" --run-dir "$work/cuda" 2> "$work/cuda.err"; then
  if grep -q -e "without CUDA" -e "no CUDA device" "$work/cuda.err"; then
    echo "skipped: $(head -n 1 "$work/cuda.err")"
    exit 77
  fi
  cat "$work/cuda.err"
  exit 1
fi
"$exp" run "$spec" --no-cache -q --device cpu --run-dir "$work/cpu"
python3 - "$work/cpu/metrics.json" "$work/cuda/metrics.json" "$device" <<'PY'
import json, sys
cpu, gpu = (json.load(open(p)) for p in sys.argv[1:3])
a, b = cpu["train"]["step_loss"], gpu["train"]["step_loss"]
assert len(a) == len(b), (len(a), len(b))
# cuDNN's convolutions (TF32 allowed) and cuBLAS round differently from the
# CPU's; over a few dozen steps the curves stay within a couple of percent.
worst = max(abs(x - y) / max(abs(x), 1e-6) for x, y in zip(a, b))
print(f"device {gpu['train']['device']}: {len(a)} steps, max relative loss difference {worst:.2e}; "
      f"generated kernels {gpu['train'].get('generated_kernels')}, CUDA graphs from step "
      f"{gpu['train'].get('cuda_graph_from_step')}")
assert gpu["train"]["device"].startswith(sys.argv[3]), gpu["train"]["device"]
assert worst < 2e-2, worst
ma, mb = cpu["evaluations"]["replicates"]["map"], gpu["evaluations"]["replicates"]["map"]
print(f"replicate mAP: cpu {ma:.4f}, {sys.argv[3]} {mb:.4f}")
assert abs(ma - mb) < 0.05, (ma, mb)
PY
