#!/bin/sh
# check_gpu_kit.sh SRC KIT EXP: the GPU bring-up kit's prepare step
# (scripts/gpu/prepare.sh) makes a folder under 64 MiB with every plan the
# device step runs, the sources a runtime-only build needs and the
# dependencies beyond LibTorch.
set -e
src=$1 kit=$2 exp=$3
EXP=$exp "$src/scripts/gpu/prepare.sh" "$kit"
# All for `cuda`; the two the kernel check runs carry generated kernels (the
# benchmark models have no elementwise groups).
for plan in networks micon vit_s16_gpu cellclip_sized; do
  python3 -c "import json, sys; p = json.load(open(sys.argv[1])); assert p['target'] == 'cuda', sys.argv[1]; \
assert sys.argv[2] == 'no' or p['gpu']['ptx'], sys.argv[1]" "$kit/plans/$plan.cuda.json" \
    "$(case $plan in networks|micon) echo yes ;; *) echo no ;; esac)"
done
tar -tzf "$kit/src.tar.gz" > "$kit/src.list"
for f in CMakeLists.txt runtime/CMakeLists.txt runtime/include/exprt/Features.def tools/exp-run/main.cpp \
         tools/run/RunCommand.cpp tests/gpu/CMakeLists.txt benchmarks/gpu/run.sh scripts/gpu/device.sh \
         tests/tools/check_gpu_training.sh; do
  grep -qx "$f" "$kit/src.list" || { echo "the kit's sources lack $f"; exit 1; }
done
# Nothing of the compiler travels: the device builds the runtime alone.
if grep -qE '^(compiler|grammar|stdlib)/' "$kit/src.list"; then echo "the kit carries the compiler"; exit 1; fi
for f in include/nlohmann/json.hpp include/CLI/CLI.hpp include/fmt/format.h include/csv.h include/spng.h \
         include/zlib.h include/openssl/evp.h lib/x86_64-linux-gnu/libcsv.a share/cmake/nlohmann_json; do
  [ -e "$kit/deps/$f" ] || { echo "the kit's deps lack $f"; exit 1; }
done
size=$(du -sb "$kit" | cut -f1)
echo "kit: $size bytes (limit 67108864)"
[ "$size" -lt 67108864 ]
