#!/usr/bin/env bash
# Compiles the CUDA kernels for the jar, when nvcc is available; otherwise writes down why there
# are none, so that the backends can say so.
#   - PTX, which the driver compiles for whatever GPU it finds: int8 and W4A16 for compute_80 and
#     newer, FP8 for compute_89 and newer (mma.sync; on Hopper this is the fallback path);
#   - a cubin for sm_90a (Hopper: H100, H200) with the wgmma/TMA GEMMs, which PTX for a generic
#     target cannot express. ptxas's resource report for it is kept next to it
#     (hopper_gemm.ptxas.txt): the SASS test reads the spill counts from it.
# Usage: build-kernels.sh OUTPUT_DIR   (FMSMO_NVCC=none pretends nvcc is absent)
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
rm -f "$out"/*.ptx "$out"/*.cubin "$out"/*.ptxas.txt "$out"/kernels.properties

nvcc=${FMSMO_NVCC:-$(command -v nvcc || true)}
if [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]]; then
  nvcc=/usr/local/cuda/bin/nvcc
fi
if [[ -z "$nvcc" || "$nvcc" == none ]]; then
  printf 'status=none\nreason=no kernels built: nvcc was not found when this plugin was built\n' > "$out/kernels.properties"
  echo "kernels-cuda: nvcc not found, no kernels built"
  exit 0
fi
ptx() {  # SOURCE ARCH NAME
  "$nvcc" -ptx -arch="$2" -o "$out/$3.tmp" "$src/$1"
  mv "$out/$3.tmp" "$out/$3"
}
ptx int8_gemm.cu compute_80 int8_gemm.ptx &
ptx fp8_gemm.cu compute_89 fp8_gemm.ptx &
ptx w4a16.cu compute_80 w4a16.ptx &
"$nvcc" -cubin -arch=sm_90a -O3 -Xptxas -v -o "$out/hopper_gemm.sm_90a.cubin.tmp" "$src/hopper_gemm.cu" \
  > "$out/hopper_gemm.ptxas.txt" 2>&1 || { cat "$out/hopper_gemm.ptxas.txt"; exit 1; }
mv "$out/hopper_gemm.sm_90a.cubin.tmp" "$out/hopper_gemm.sm_90a.cubin"
wait %1 %2 %3
version=$("$nvcc" --version | grep -o 'release [0-9.]*' || echo unknown)
printf 'status=built\nnvcc=%s\nint8=int8_gemm.ptx compute_80\nfp8=fp8_gemm.ptx compute_89\nw4a16=w4a16.ptx compute_80\nhopper=hopper_gemm.sm_90a.cubin sm_90a\n' \
  "$version" > "$out/kernels.properties"
echo "kernels-cuda: PTX and the sm_90a cubin built with nvcc $version"
