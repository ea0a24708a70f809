// Shared by the quantize kernels: the dynamic per-token scale, computed by one thread block per row.
#pragma once

// s = max|row| / qmax in float, as the simulated per-token quantizers compute it (1 for an
// all-zero row). Every thread of the block returns s; the first also stores it in *out.
__device__ __forceinline__ float row_scale(const float* __restrict__ row, int K, float qmax, float* out) {
    __shared__ float partial[32];
    float amax = 0.f;
    for (int k = threadIdx.x; k < K; k += blockDim.x) amax = fmaxf(amax, fabsf(row[k]));
    for (int off = 16; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = amax;
    __syncthreads();
    if (threadIdx.x < 32) {
        amax = threadIdx.x < (blockDim.x + 31) / 32 ? partial[threadIdx.x] : 0.f;
        for (int off = 16; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
        if (threadIdx.x == 0) {
            float s = amax / qmax;
            partial[0] = s == 0.f ? 1.f : s;
            *out = partial[0];
        }
    }
    __syncthreads();
    return partial[0];
}
