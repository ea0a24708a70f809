// Shared by the INT8 and FP8 kernels: the dynamic per-token scale (one thread block per row) and
// the rescale of the accumulators.
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

// y = acc * sx[m] * sw[n] (+ bias[n]) for element i of [M][N], in the same float order as the CPU
// backend and the simulation. Acc is int32 (INT8 GEMM) or float (FP8 GEMM).
template <typename Acc>
__device__ __forceinline__ void rescale_element(const Acc* __restrict__ acc, const float* __restrict__ sx,
                                                const float* __restrict__ sw, const float* __restrict__ bias,
                                                float* __restrict__ y, int M, int N, int hasBias) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)M * N) return;
    int m = (int)(i / N), n = (int)(i % N);
    float v = __fmul_rn(__fmul_rn((float)acc[i], sx[m]), sw[n]);
    y[i] = hasBias ? __fadd_rn(v, bias[n]) : v;
}
