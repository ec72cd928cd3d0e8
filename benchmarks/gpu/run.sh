#!/usr/bin/env bash
# Issue 10's benchmarks on one GPU (an H100 or H200): for each configuration,
# the training step of exp (a `cuda` plan on --device cuda: CUDA graphs, the
# fused CUDA loss, generated kernels) against the same model, loss and
# optimiser in eager PyTorch and under torch.compile (the GPU machine's
# python3 and torch; fused AdamW, bf16 autocast as the plan says); images per
# second, the ratios, and model FLOP utilisation from the step's FLOPs
# (torch.utils.flop_counter) over PEAK_TFLOPS (dense bf16: 989 for an H100 or
# H200 SXM). Then replicate mAP on 1,000,000 synthetic profiles with the
# GPU's AP (exp-bench-map --device).
#
#   benchmarks/gpu/run.sh [REPEATS] [PEAK_TFLOPS]      (after the CUDA build, docs/gpu.md)
# EXP_BIN: the binaries; PLANS: a folder of compiled plans (NAME.cuda.json)
# instead of compiling here; DEVICE: cuda (default) or cpu (a dry run);
# MAP_ROWS: the mAP benchmark's profiles (default 1,000,000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${EXP_BIN:-$root/build/bin}
python=${PYTHON:-python3}
device=${DEVICE:-cuda}
arch=${GPU_ARCH:-sm_90}
repeats=${1:-3}
peak=${2:-989}
threads=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ratio() { "$python" -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{a / b:.2f}')" "$@"; }

"$python" -c 'import torch; print("torch", torch.__version__, "on", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "the CPU")'
printf "%-14s %6s %9s %9s %9s %10s %9s %9s %8s %8s %8s\n" config batch "exp ms" "eager ms" \
  "compile ms" "exp img/s" "vs eager" "vs comp." "MFU exp" "MFU eag." "MFU comp"
for entry in "$here/vit_s16_gpu.exp:vit_s16_sized" "$root/benchmarks/train_step/cellclip_sized.exp:cellclip_sized"; do
  spec=${entry%%:*}
  script="$root/benchmarks/train_step/eager_pytorch_${entry##*:}.py"
  name=$(basename "$spec" .exp)
  plan="$tmp/$name.json"
  if [ -n "${PLANS:-}" ]; then # the GPU kit's, compiled where the compiler is (scripts/gpu/)
    plan=$PLANS/$name.cuda.json
  else
    "$bin/exp" compile "$spec" --no-cache --target cuda --gpu-arch "$arch" -o "$plan"
  fi
  batch=$("$python" -c "import json, sys; print(json.load(open(sys.argv[1]))['train']['batch'])" "$plan")
  ours=$("$bin/exp-bench-train-step" "$plan" "$threads" "$repeats" "$device")
  read -r eager flops < <("$python" "$script" "$plan" "$threads" "$repeats" "$device" eager)
  read -r compiled _ < <("$python" "$script" "$plan" "$threads" "$repeats" "$device" compile)
  mfu() { "$python" -c "import sys; f, ms, p = map(float, sys.argv[1:]); print(f'{100 * f / (ms / 1e3) / (p * 1e12):.1f}%')" "$flops" "$1" "$peak"; }
  printf "%-14s %6d %9.2f %9.2f %9.2f %10.0f %8sx %8sx %8s %8s %8s\n" "$name" "$batch" "$ours" "$eager" \
    "$compiled" "$("$python" -c "print($batch / ($ours / 1e3))")" "$(ratio "$eager" "$ours")" \
    "$(ratio "$compiled" "$ours")" "$(mfu "$ours")" "$(mfu "$eager")" "$(mfu "$compiled")"
done
"$bin/exp-bench-map" --rows "${MAP_ROWS:-1000000}" --device "$device" --repeats 1 --threads "$threads"
