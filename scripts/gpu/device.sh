#!/usr/bin/env bash
# The GPU bring-up kit, step 2 of 2, run on the GPU machine from the folder
# scripts/gpu/prepare.sh made (CUDA, CMake, ninja and a Python PyTorch there;
# no Debian -dev packages, no network needed):
#
#   RESULTS=DIR KIT/src/scripts/gpu/device.sh [--device cuda|cpu] [--limit SECONDS]
#
# 1. builds the runtime, exp-run, the benchmarks and the GPU checker
#    (-DEXP_RUNTIME_ONLY=ON, every core) against the PyTorch's LibTorch and the
#    kit's deps/;
# 2. exp-run env;
# 3. the generated kernels on the device (gpu_generated_kernels_on_device);
# 4. a training run on the device against the same plan on the CPU
#    (gpu_training_matches_cpu);
# 5. the CUDA-graph path off (EXP_CUDA_GRAPHS=0; the default run above has
#    it on) and one rank that forms its group (NCCL; EXP_DIST_GROUP_OF_ONE);
# 6. benchmarks/gpu/run.sh: exp against eager PyTorch and torch.compile, MFU,
#    replicate mAP on 10^6 profiles.
# Every step prints its time and writes its log into $RESULTS (NN-step.log);
# $RESULTS/summary.txt has one line per step. A step that fails does not stop
# the next; the whole run stops itself at --limit (default 480 s, a short GPU
# lease) with what it has written. `--device cpu` is the dry run: the same
# commands against any LibTorch (Debian's here), the device steps on the CPU.
set -uo pipefail
device=cuda limit=480
while [ $# -gt 0 ]; do
  case $1 in
    --device) device=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    *) echo "device.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "${RESULTS:-}" ] || { echo "device.sh: set RESULTS to the folder for results" >&2; exit 2; }
src=$(cd "$(dirname "$0")/../.." && pwd)
kit=${KIT:-$(cd "$src/.." && pwd)}
python=${PYTHON:-python3}
build=${BUILD:-$kit/build-runtime}
mkdir -p "$RESULTS"
summary=$RESULTS/summary.txt
: > "$summary"
start=$SECONDS
n=0
# step NAME COMMAND...: runs COMMAND with what is left of the limit, logs it,
# records its status and time.
step() {
  local name=$1; shift
  n=$((n + 1))
  local log; log=$(printf '%s/%02d-%s.log' "$RESULTS" "$n" "$name")
  local left=$((limit - (SECONDS - start)))
  if [ "$left" -le 5 ]; then
    echo "$name: not run (the ${limit} s limit was reached)" | tee -a "$summary"
    return 0
  fi
  local t0=$SECONDS
  timeout --signal=TERM --kill-after=10 "$left" "$@" > "$log" 2>&1
  local rc=$?
  local status=ok
  case $rc in
    0) ;;
    77) status="skipped ($(grep -m1 -i 'skip' "$log" | cut -c1-200))" ;;
    124|137) status="stopped at the limit" ;;
    *) status="FAILED (exit $rc; $(tail -n 1 "$log" | cut -c1-200))" ;;
  esac
  printf '%-22s %-8s %4ss  %s\n' "$name" "$device" "$((SECONDS - t0))" "$status" | tee -a "$summary"
}

torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)
# Debian's LibTorch (the dry run here) has no Python package.
[ -n "$torch_prefix" ] || torch_prefix=/usr/lib/x86_64-linux-gnu/cmake
deps=$kit/deps
lib=$deps/lib/x86_64-linux-gnu
# The machine's own zlib and libcrypto where it has them, the kit's otherwise.
syslib() { for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /lib/x86_64-linux-gnu; do [ -e "$d/$1" ] && { echo "$d/$1"; return; }; done; echo "$lib/$1"; }
configure() {
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEXP_RUNTIME_ONLY=ON \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps" -DEXP_OPTIONAL_DEPS=OFF -DEXP_WITH_CSV=ON -DEXP_WITH_SPNG=ON \
    -DCSV_INCLUDE_DIR="$deps/include" -DCSV_LIBRARY="$lib/libcsv.a" \
    -DSPNG_INCLUDE_DIR="$deps/include" -DSPNG_LIBRARY="$lib/libspng.so" \
    -DZLIB_INCLUDE_DIR="$deps/include" -DZLIB_LIBRARY="$(syslib libz.so.1)" \
    -DOPENSSL_INCLUDE_DIR="$deps/include" -DOPENSSL_CRYPTO_LIBRARY="$(syslib libcrypto.so.3)" \
    -DCMAKE_BUILD_RPATH="$lib"
}
build() { configure && cmake --build "$build" -j "$(nproc)" --target exp-run exp-bench-train-step exp-bench-map \
            $( [ -f "$build/build.ninja" ] && grep -q 'exp-gpu-check-kernels:' "$build/build.ninja" && echo exp-gpu-check-kernels ); }
export src build deps lib torch_prefix
export -f syslib configure build
step build bash -c build
bin=$build/bin
export PLANS=$kit/plans DEVICE=$device EXP_BIN=$bin PYTHON=$python
step environment sh -c "'$bin/exp-run' env > '$RESULTS/environment.json'"
if [ -x "$bin/exp-gpu-check-kernels" ]; then
  step generated-kernels "$src/tests/tools/check_gpu_kernels.sh" - "$bin/exp-gpu-check-kernels" "$src" "$RESULTS/kernels"
else
  echo "generated-kernels: not built (no nvcc)" | tee -a "$summary"
fi
step training-vs-cpu "$src/tests/tools/check_gpu_training.sh" "$bin/exp-run" "$src" "$RESULTS/training"
step graphs-off env EXP_CUDA_GRAPHS=0 "$bin/exp-run" run "$PLANS/networks.cuda.json" --device "$device" --no-cache -q \
  --run-dir "$RESULTS/graphs-off"
# One rank that still forms its group: on a GPU, NCCL's; the kit builds
# without Gloo, so on the CPU the same command must be refused naming it.
one_rank() {
  local out=$RESULTS/one-rank.err
  if EXP_DIST_GROUP_OF_ONE=1 "$bin/exp-run" run "$PLANS/networks.cuda.json" --device "$device" --no-cache -q \
       --run-dir "$RESULTS/one-rank" 2> "$out"; then
    [ "$device" != cpu ] || { echo "a CPU group formed without Gloo"; return 1; }
    return 0
  fi
  cat "$out"
  [ "$device" = cpu ] && grep -q 'EXP_WITH_GLOO=ON.*\[R0106\]' "$out" && { echo "skipped: no Gloo on the CPU, refused as it should be"; return 77; }
  return 1
}
export -f one_rank
export bin RESULTS device
step one-rank-group bash -c one_rank
# On the CPU (the dry run) two steps of each configuration, not dozens.
[ "$device" = cpu ] && export EXP_BENCH_STEPS=${EXP_BENCH_STEPS:-1,2}
step benchmarks "$src/benchmarks/gpu/run.sh" "${REPEATS:-3}"
echo "kit: $((SECONDS - start)) s in all; results in $RESULTS" | tee -a "$summary"
