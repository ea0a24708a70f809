#!/usr/bin/env bash
# The GPU check, in one command, for a GPU machine that has CUDA, PyTorch and CuPy but no JDK:
#   1. gpu_gemm.py, part by part (each in its own process under a time limit, so that a kernel
#      that hangs costs one part, not the run): SASS of the sm_90a cubin, exactness of every kernel,
#      the speed table against cuBLAS / cuBLASLt;
#   2. when a runtime folder is given (a jlink'd JDK and the jars, see make_gpu_bundle.sh), the
#      DJL-free Java check that drives the backends' own code through the FFM bindings.
# Every part writes JSON into OUT_DIR; the exit status is non-zero when any part failed.
# Usage: gpu_check.sh OUT_DIR KERNEL_DIR [BUNDLE_DIR]   (GPU_CHECK_PARTS="part ..." picks gpu_gemm.py parts)
set -u
out=$1
kernels=$2
bundle=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$out/nvidia-smi.csv" 2>&1 || true
for part in ${GPU_CHECK_PARTS:-sass hopper-check w4a16-check check hopper-bench}; do
  echo "== $part"
  timeout 240 python3 "$here/gpu_gemm.py" --ptx-dir "$kernels" --part "$part" --output "$out/$part.json" 2>&1 | tee "$out/$part.log"
  rc=${PIPESTATUS[0]}
  echo "== $part: exit $rc"
  [[ $rc -ne 0 ]] && status=1
done
if [[ -n "$bundle" ]]; then
  echo "== java"
  timeout 240 "$bundle/jre/bin/java" --enable-native-access=ALL-UNNAMED -cp "$bundle/jars/*" org.fmsmo.kernels.cuda.GpuCheck \
    --output "$out/java.json" 2>&1 | tee "$out/java.log"
  rc=${PIPESTATUS[0]}
  echo "== java: exit $rc"
  [[ $rc -ne 0 ]] && status=1
fi
exit $status
