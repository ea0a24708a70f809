// fmsmo W4A16: 4-bit weight codes with FP16 group scales (GPTQ, compressed-tensors pack-quantized)
// times FP16 activations on the tensor cores, dequantizing in registers. sm_80 and newer.
//
// Weights are repacked once, on the GPU, from one code per byte [N][K] into "fragment order":
// for row n and each 128-wide K block, thread t (of the 4 threads that share an MMA row) reads
// one 16-byte word holding exactly the 32 codes its m16n8k16 A fragments need
// (k = 16j + 2t, 2t+1, 2t+8, 2t+9 for j = 0..7). Inside each 32-bit word, nibbles i and i+4
// are the two halves of one f16x2 register, so one lop3 turns them into 1024 + code in FP16;
// subtracting 1024 + zero is exact, and one multiplication by the group scale rounds once,
// as the FP16 dequantization of the reference (s · (q − z) in FP16) does.
//
// Decode (1–16 tokens): w4a16_gemv computes Yᵀ = W · Xᵀ, so the weights are the MMA's A operand
// (16 output features per warp) and up to 16 tokens are its two n8 B tiles, loaded from shared
// memory with ldmatrix. K is split across blocks (their partial sums are added atomically into
// a zeroed y) so that enough loads are in flight to reach memory bandwidth.
// Prefill: w4_dequant writes FP16 weights once per call, then the FP16 GEMM runs.
#include <cuda_fp16.h>
#include <cstdint>

namespace {
constexpr int KB = 128;       // K block: one 16-byte word per thread and row
constexpr int TOKENS = 16;    // tokens per block (two n8 MMA tiles)

// word slot (t, w) of a 128-wide K block: pair i of the word -> k offset of its low element
__device__ __forceinline__ int pair_k(int t, int w, int i) { return 16 * (2 * w + i / 2) + 2 * t + 8 * (i % 2); }

__device__ __forceinline__ uint32_t nibble_pair(uint32_t word, int i) {
    // (word >> 4i) keeps nibble i at bits 0..3 and nibble i+4 at bits 16..19; OR 0x6400 makes 1024 + code
    uint32_t r;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(r) : "r"(word >> (4 * i)), "r"(0x000F000Fu), "r"(0x64006400u));
    return r;  // (a & b) | c
}

__device__ __forceinline__ void mma_f16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t h2_bits(__half2 h) { return *reinterpret_cast<uint32_t*>(&h); }
__device__ __forceinline__ __half2 bits_h2(uint32_t u) { return *reinterpret_cast<__half2*>(&u); }

// (1024 + q, 1024 + q') - (1024 + z) -> exact q - z, times the scale: one FP16 rounding.
__device__ __forceinline__ uint32_t dequant_pair(uint32_t word, int i, __half2 zero, __half2 scale) {
    return h2_bits(__hmul2(__hsub2(bits_h2(nibble_pair(word, i)), zero), scale));
}
}  // namespace

// codes [N][K] bytes (0..15) -> packed [Np][K/8] 32-bit words in fragment order (rows N..Np-1 get
// code `fill`, which the kernels never write out). K must be a multiple of 128. One thread per word.
extern "C" __global__ void w4_repack(const uint8_t* __restrict__ codes, uint32_t* __restrict__ packed, int N, int Np, int K,
                                     int fill) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t words_per_row = K / 8;
    if (i >= (size_t)Np * words_per_row) return;
    int n = (int)(i / words_per_row), wi = (int)(i % words_per_row);
    int kb = wi / 16, t = (wi % 16) / 4, w = wi % 4;
    uint32_t word = 0;
    for (int p = 0; p < 4; p++) {
        int k = kb * KB + pair_k(t, w, p);
        uint32_t lo = n < N ? codes[(size_t)n * K + k] & 15 : fill;
        uint32_t hi = n < N ? codes[(size_t)n * K + k + 1] & 15 : fill;
        word |= lo << (4 * p) | hi << (4 * (p + 4));
    }
    packed[i] = word;
}

// y[M][N] += x[M][K] · Wᵀ over the K range of blockIdx.y (K_SPLIT wide; the last range may be
// shorter); y must be zeroed first; bias is added by the blocks of the first K range. scales
// and zeros are [Np][K/G] FP16 (Np = N rounded up to ROWS; zeros holds 1024 + z; null means
// z = 8, the symmetric GPTQ offset); G a multiple of 32. Each warp owns two 16-row tiles, so a
// block of 8 warps covers ROWS = 256 output features and stages the tokens' K range once for them.
// Grid: (Np/256, ceil(K/512), ceil(M/16)), 256 threads, shared memory 16 * (512 + 8) * 2 bytes.
constexpr int GEMV_ROWS = 256;
constexpr int K_SPLIT = 512;
template <int GC>
__device__ __forceinline__ void gemv(const float* __restrict__ x, const uint4* __restrict__ packed, const __half* __restrict__ scales,
                                     const __half* __restrict__ zeros, const float* __restrict__ bias, float* __restrict__ y, int M,
                                     int N, int K, int g_runtime, __half (*xs)[K_SPLIT + 8]) {
    const int G = GC ? GC : g_runtime;  // the common group sizes are compile-time constants: no division per word
    const int k0 = blockIdx.y * K_SPLIT, m0 = blockIdx.z * TOKENS;
    const int kw = min(K_SPLIT, K - k0);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int n0 = blockIdx.x * GEMV_ROWS + warp * 32 + g;  // rows n0 + 16r and n0 + 16r + 8, r = 0, 1
    const int groups = K / G;
    const int blocks = kw / KB;
    constexpr int MAX_BLOCKS = K_SPLIT / KB;
    // every weight word of this warp's K range is requested first (16 loads in flight per thread),
    // then the activations are staged while they arrive
    uint4 wq[2][2][MAX_BLOCKS];
#pragma unroll
    for (int r = 0; r < 2; r++)
#pragma unroll
        for (int hl = 0; hl < 2; hl++)
#pragma unroll
            for (int b = 0; b < MAX_BLOCKS; b++)
                if (b < blocks) wq[r][hl][b] = packed[(size_t)(n0 + 16 * r + 8 * hl) * (K / 32) + (k0 / KB + b) * 4 + t];
    constexpr int STAGE_STEPS = TOKENS * K_SPLIT / 4 / 256;  // float4 per thread, with 256 threads
    const int per_row = kw / 4;
#pragma unroll
    for (int step = 0; step < STAGE_STEPS; step++) {  // float4 in, 4 halves out; a fixed count, so the loads are batched
        int i = threadIdx.x + step * 256;
        int r = i / (K_SPLIT / 4), k = 4 * (i % (K_SPLIT / 4));
        if (k / 4 < per_row) {
            float4 v = m0 + r < M ? *reinterpret_cast<const float4*>(&x[(size_t)(m0 + r) * K + k0 + k]) : make_float4(0.f, 0.f, 0.f, 0.f);
            *reinterpret_cast<__half2*>(&xs[r][k]) = __floats2half2_rn(v.x, v.y);
            *reinterpret_cast<__half2*>(&xs[r][k + 2]) = __floats2half2_rn(v.z, v.w);
        }
    }
    __syncthreads();

    // ldmatrix x4: lanes 0-7 address tokens 0-7 at k, 8-15 tokens 0-7 at k+8, 16-23 tokens 8-15 at k, 24-31 tokens 8-15 at k+8
    const uint32_t xs_lane = static_cast<uint32_t>(__cvta_generic_to_shared(&xs[(lane & 7) + ((lane >> 4) << 3)][((lane >> 3) & 1) * 8]));
    const __half2 z8 = __half2half2(__float2half_rn(1032.f));
    float c[2][2][4] = {};  // [row tile][token tile]
#pragma unroll
    for (int b = 0; b < MAX_BLOCKS; b++) {
        if (b >= blocks) break;
        const int kbase = k0 + b * KB;
#pragma unroll
        for (int w = 0; w < 4; w++) {  // word w: chunks 2w and 2w+1 (32 values of K)
            const int gi = (kbase + 32 * w) / G;
            __half2 s[2][2], z[2][2];
#pragma unroll
            for (int r = 0; r < 2; r++)
#pragma unroll
                for (int hl = 0; hl < 2; hl++) {
                    size_t at = (size_t)(n0 + 16 * r + 8 * hl) * groups + gi;
                    s[r][hl] = __half2half2(scales[at]);
                    z[r][hl] = zeros ? __half2half2(zeros[at]) : z8;
                }
#pragma unroll
            for (int h = 0; h < 2; h++) {
                uint32_t b0, b1, b2, b3;
                asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                             : "=r"(b0), "=r"(b1), "=r"(b2), "=r"(b3)
                             : "r"(xs_lane + (uint32_t)((b * KB + 16 * (2 * w + h)) * 2)));
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    const uint32_t lo = (&wq[r][0][b].x)[w], hi = (&wq[r][1][b].x)[w];
                    uint32_t a[4] = {dequant_pair(lo, 2 * h, z[r][0], s[r][0]), dequant_pair(hi, 2 * h, z[r][1], s[r][1]),
                                     dequant_pair(lo, 2 * h + 1, z[r][0], s[r][0]), dequant_pair(hi, 2 * h + 1, z[r][1], s[r][1])};
                    mma_f16(c[r][0], a, b0, b1);
                    mma_f16(c[r][1], a, b2, b3);
                }
            }
        }
    }
    // c[r][tt]: (row n0+16r, tokens 8tt + 2t, +1), (row n0+16r+8, the same tokens)
    const bool first = blockIdx.y == 0 && bias != nullptr;
#pragma unroll
    for (int r = 0; r < 2; r++)
#pragma unroll
        for (int tt = 0; tt < 2; tt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int token = m0 + 8 * tt + 2 * t + (e % 2);
                int row = n0 + 16 * r + 8 * (e / 2);
                float v = c[r][tt][e];
                if (token < M && row < N) atomicAdd(&y[(size_t)token * N + row], first ? v + bias[row] : v);
            }
}

extern "C" __global__ void __launch_bounds__(256) w4a16_gemv(const float* __restrict__ x, const uint4* __restrict__ packed,
                                                             const __half* __restrict__ scales, const __half* __restrict__ zeros,
                                                             const float* __restrict__ bias, float* __restrict__ y, int M, int N,
                                                             int K, int G) {
    __shared__ __align__(16) __half xs[TOKENS][K_SPLIT + 8];  // +8 halves shift rows across banks for ldmatrix
    switch (G) {
        case 128: gemv<128>(x, packed, scales, zeros, bias, y, M, N, K, G, xs); break;
        case 64: gemv<64>(x, packed, scales, zeros, bias, y, M, N, K, G, xs); break;
        case 32: gemv<32>(x, packed, scales, zeros, bias, y, M, N, K, G, xs); break;
        default: gemv<0>(x, packed, scales, zeros, bias, y, M, N, K, G, xs); break;
    }
}

// packed (fragment order) -> w [N][K] FP16, the same dequantization as the GEMV. One thread per
// 16-byte word; the 4 threads of a K block meet in shared memory so that the FP16 rows are
// written as contiguous 16-byte chunks. 256 threads per block.
extern "C" __global__ void __launch_bounds__(256) w4_dequant(const uint4* __restrict__ packed, const __half* __restrict__ scales,
                                                             const __half* __restrict__ zeros, __half* __restrict__ w, int N, int K,
                                                             int G) {
    __shared__ __align__(16) __half tile[64][KB + 8];
    const size_t per_row = K / 32;
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    const bool valid = i < (size_t)N * per_row;
    const int local = threadIdx.x / 4, t = threadIdx.x % 4;
    int n = 0, kb = 0;
    if (valid) {
        n = (int)(i / per_row);
        kb = (int)(i % per_row) / 4;
        uint4 q = packed[i];
        const uint32_t words[4] = {q.x, q.y, q.z, q.w};
        const int groups = K / G;
#pragma unroll
        for (int wd = 0; wd < 4; wd++) {
            int gi = (kb * KB + 32 * wd) / G;
            __half2 s = __half2half2(scales[(size_t)n * groups + gi]);
            __half2 z = zeros ? __half2half2(zeros[(size_t)n * groups + gi]) : __half2half2(__float2half_rn(1032.f));
#pragma unroll
            for (int p = 0; p < 4; p++) *reinterpret_cast<uint32_t*>(&tile[local][pair_k(t, wd, p)]) = dequant_pair(words[wd], p, z, s);
        }
    }
    __syncthreads();
    if (valid) {
#pragma unroll
        for (int c = 0; c < 4; c++) {  // chunk t + 4c of the block's 16: the group's 4 threads write 64 contiguous bytes
            int chunk = t + 4 * c;
            *reinterpret_cast<uint4*>(&w[(size_t)n * K + kb * KB + 8 * chunk]) = *reinterpret_cast<const uint4*>(&tile[local][8 * chunk]);
        }
    }
}

// FP32 -> FP16 (round to nearest even), for the prefill path's activations: four per thread.
extern "C" __global__ void f32_to_f16(const float* __restrict__ x, __half* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (4 * i + 3 < n) {
        float4 v = reinterpret_cast<const float4*>(x)[i];
        reinterpret_cast<__half2*>(y)[2 * i] = __floats2half2_rn(v.x, v.y);
        reinterpret_cast<__half2*>(y)[2 * i + 1] = __floats2half2_rn(v.z, v.w);
    } else {
        for (long long j = 4 * i; j < n; j++) y[j] = __float2half_rn(x[j]);
    }
}
