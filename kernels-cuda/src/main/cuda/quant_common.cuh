// Shared by the INT8 and FP8 kernels: the dynamic per-token scale (one thread block per row) and
// the rescale of the accumulators.
#pragma once
#include <cstdint>

__device__ __forceinline__ float abs_max4(float4 v) { return fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))); }

// The block's maximum of every thread's amax, turned into s = amax / qmax in float, as the
// simulated per-token quantizers compute it (1 for an all-zero row). Every thread returns s; the
// first also stores it in *out.
__device__ __forceinline__ float block_scale(float amax, float qmax, float* out) {
    __shared__ float partial[32];
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

// s for one row read from memory (the two-pass path for rows too long to keep in registers).
__device__ __forceinline__ float row_scale(const float* __restrict__ row, int K, float qmax, float* out) {
    float amax = 0.f;
    if (K % 4 == 0) {  // rows start 16-byte aligned: read them as float4
        const float4* r4 = reinterpret_cast<const float4*>(row);
        for (int k = threadIdx.x; k < K / 4; k += blockDim.x) amax = fmaxf(amax, abs_max4(r4[k]));
    } else {
        for (int k = threadIdx.x; k < K; k += blockDim.x) amax = fmaxf(amax, fabsf(row[k]));
    }
    return block_scale(amax, qmax, out);
}

// Quantizes one row that the block holds in registers, reading it from memory once: up to
// ROW_VECTORS float4 per thread (K <= 12288 with 256 threads). encode(v, s) gives one code byte.
// Returns false, having done nothing, when K is not a multiple of 4 or the row is too long.
constexpr int ROW_VECTORS = 12;
template <typename Encode>
__device__ __forceinline__ bool quantize_row_in_registers(const float* __restrict__ row, uint8_t* __restrict__ q,
                                                          float* __restrict__ sx, int K, int Kp, float qmax, Encode encode) {
    if (K % 4 != 0 || K / 4 > ROW_VECTORS * (int)blockDim.x) return false;
    const float4* r4 = reinterpret_cast<const float4*>(row);
    float4 v[ROW_VECTORS];
    float amax = 0.f;
#pragma unroll
    for (int i = 0; i < ROW_VECTORS; i++) {
        int k = threadIdx.x + i * blockDim.x;
        if (k < K / 4) {
            v[i] = r4[k];
            amax = fmaxf(amax, abs_max4(v[i]));
        }
    }
    float s = block_scale(amax, qmax, sx);
    uint32_t* q4 = reinterpret_cast<uint32_t*>(q);
#pragma unroll
    for (int i = 0; i < ROW_VECTORS; i++) {
        int k = threadIdx.x + i * blockDim.x;
        if (k < K / 4) {
            q4[k] = (uint32_t)encode(v[i].x, s) | (uint32_t)encode(v[i].y, s) << 8 | (uint32_t)encode(v[i].z, s) << 16
                    | (uint32_t)encode(v[i].w, s) << 24;
        }
    }
    for (int k = K / 4 + threadIdx.x; k < Kp / 4; k += blockDim.x) q4[k] = 0;  // K padding: zero codes
    return true;
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
