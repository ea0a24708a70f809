#!/usr/bin/env bash
# Compiles the CUDA kernels to PTX for the jar, when nvcc is available; otherwise writes down why
# there are none, so that the backends can say so. PTX (not cubins) so that the driver compiles it
# for whatever GPU it finds: int8 for compute_80 and newer, FP8 for compute_89 and newer.
# Usage: build-kernels.sh OUTPUT_DIR   (FMSMO_NVCC=none pretends nvcc is absent)
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
rm -f "$out"/*.ptx "$out"/kernels.properties

nvcc=${FMSMO_NVCC:-$(command -v nvcc || true)}
if [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]]; then
  nvcc=/usr/local/cuda/bin/nvcc
fi
if [[ -z "$nvcc" || "$nvcc" == none ]]; then
  printf 'status=none\nreason=no kernels built: nvcc was not found when this plugin was built\n' > "$out/kernels.properties"
  echo "kernels-cuda: nvcc not found, no kernels built"
  exit 0
fi
"$nvcc" -ptx -arch=compute_80 -o "$out/int8_gemm.ptx.tmp" "$src/int8_gemm.cu"
"$nvcc" -ptx -arch=compute_89 -o "$out/fp8_gemm.ptx.tmp" "$src/fp8_gemm.cu"
mv "$out/int8_gemm.ptx.tmp" "$out/int8_gemm.ptx"
mv "$out/fp8_gemm.ptx.tmp" "$out/fp8_gemm.ptx"
version=$("$nvcc" --version | grep -o 'release [0-9.]*' || echo unknown)
printf 'status=built\nnvcc=%s\nint8=int8_gemm.ptx compute_80\nfp8=fp8_gemm.ptx compute_89\n' "$version" > "$out/kernels.properties"
echo "kernels-cuda: PTX built with nvcc $version"
