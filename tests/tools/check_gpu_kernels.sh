#!/bin/sh
# check_gpu_kernels.sh EXP CHECKER SRC WORK: compiles plans with generated
# kernels (--target cuda) and runs each kernel on GPU 0 against LibTorch on
# the CPU (tests/gpu/GeneratedKernelsOnDevice.cpp). Exit 77 = skipped (no GPU).
set -e
# With PLANS set (the GPU kit, scripts/gpu/), the plans compiled there are
# used and EXP is not called.
exp=$1 checker=$2 src=$3 work=$4
mkdir -p "$work"
if [ -n "${PLANS:-}" ]; then
  networks=$PLANS/networks.cuda.json micon=$PLANS/micon.cuda.json
else
  networks=$work/networks.json micon=$work/micon.json
  "$exp" compile "$src/tests/lit/driver/run-networks.exp" --no-cache --target cuda -o "$networks"
  "$exp" compile "$src/examples/micon.exp" --no-cache --target cuda --gpu-arch sm_80 -o "$micon"
fi
for plan in "$networks" "$micon"; do
  set +e
  "$checker" "$plan"
  rc=$?
  set -e
  [ $rc -eq 77 ] && exit 77
  [ $rc -ne 0 ] && { echo "FAILED: $plan"; exit 1; }
done
echo "every generated kernel matches LibTorch on the GPU"
