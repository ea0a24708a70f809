// fmsmo W8A8 FP8 (e4m3 x e4m3, FP32 accumulation) linear for sm_89 / sm_90:
// quantize -> mma.sync.m16n8k32 e4m3 GEMM -> rescale.
//
// Layouts as in int8_gemm.cu: x [M][K] float; q [M][Kp] and w [N][Kp] e4m3 bytes, K zero-padded
// to Kp (a multiple of 32; e4m3 0x00 is +0 and adds nothing); acc [M][N] float; y [M][N] float.
#include <cuda_fp8.h>
#include <cstdint>
#include "quant_common.cuh"

namespace {
constexpr int BM = 64;
constexpr int BN = 64;
constexpr int BK = 32;
constexpr int THREADS = 128;     // 4 warps in 2 x 2, each computing 32 x 32
constexpr int LDS = BK + 16;     // padded rows; keeps 16-byte alignment of every row

// One m16n8k32 MMA. Fragment layout of the 8-bit m16n8k32 shape (PTX ISA), with g = lane / 4 and
// t = lane % 4: A registers a0..a3 hold 4 consecutive k each: a0 (row g, k 4t..), a1 (row g+8,
// k 4t..), a2 (row g, k 16+4t..), a3 (row g+8, k 16+4t..); B registers b0, b1 hold column n = g,
// k 4t.. and 16+4t..; the accumulators c0..c3 are (row g, col 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1).
__device__ __forceinline__ void mma_e4m3(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
}  // namespace

// Per-token e4m3 quantization as the simulated per-token FP8 quantizer: s = max|x| / 448 (1 for an
// all-zero row), code = e4m3(x / s) rounded to nearest even, saturated to ±448. One block per token.
extern "C" __global__ void quantize_fp8_per_token(const float* __restrict__ x, uint8_t* __restrict__ q, float* __restrict__ sx,
                                                  int M, int K, int Kp) {
    int m = blockIdx.x;
    if (m >= M) return;
    auto encode = [](float v, float s) { return (uint8_t)__nv_cvt_float_to_fp8(__fdiv_rn(v, s), __NV_SATFINITE, __NV_E4M3); };
    if (quantize_row_in_registers(x + (size_t)m * K, q + (size_t)m * Kp, &sx[m], K, Kp, 448.f, encode)) return;
    float s = row_scale(x + (size_t)m * K, K, 448.f, &sx[m]);
    for (int k = threadIdx.x; k < Kp; k += blockDim.x) {
        float v = k < K ? __fdiv_rn(x[(size_t)m * K + k], s) : 0.f;
        q[(size_t)m * Kp + k] = (uint8_t)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
    }
}

// Static (per-tensor) e4m3 quantization with the calibrated scale.
extern "C" __global__ void quantize_fp8_static(const float* __restrict__ x, uint8_t* __restrict__ q, float scale, int M, int K, int Kp) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)M * Kp) return;
    int m = (int)(i / Kp), k = (int)(i % Kp);
    float v = k < K ? __fdiv_rn(x[(size_t)m * K + k], scale) : 0.f;
    q[i] = (uint8_t)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
}

// acc = a · bᵀ with e4m3 operands and FP32 accumulation; Kp a multiple of BK.
extern "C" __global__ void __launch_bounds__(THREADS) gemm_e4m3_f32(const uint8_t* __restrict__ a, const uint8_t* __restrict__ b,
                                                                    float* __restrict__ acc, int M, int N, int Kp) {
    __shared__ __align__(16) uint8_t sa[BM][LDS];
    __shared__ __align__(16) uint8_t sb[BN][LDS];
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, t = lane % 4;
    const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;
    float c[2][4][4] = {};

    for (int k0 = 0; k0 < Kp; k0 += BK) {
        // 64 rows x 32 bytes = 128 chunks of 16 bytes per operand: one per thread; zeros past M and N
        {
            int row = threadIdx.x / 2, col = (threadIdx.x % 2) * 16;
            uint4 va = make_uint4(0, 0, 0, 0), vb = make_uint4(0, 0, 0, 0);
            if (m0 + row < M) va = *reinterpret_cast<const uint4*>(a + (size_t)(m0 + row) * Kp + k0 + col);
            if (n0 + row < N) vb = *reinterpret_cast<const uint4*>(b + (size_t)(n0 + row) * Kp + k0 + col);
            *reinterpret_cast<uint4*>(&sa[row][col]) = va;
            *reinterpret_cast<uint4*>(&sb[row][col]) = vb;
        }
        __syncthreads();
        uint32_t fa[2][4], fb[4][2];
        for (int i = 0; i < 2; i++) {
            int r = wm + 16 * i + g;
            fa[i][0] = *reinterpret_cast<const uint32_t*>(&sa[r][4 * t]);
            fa[i][1] = *reinterpret_cast<const uint32_t*>(&sa[r + 8][4 * t]);
            fa[i][2] = *reinterpret_cast<const uint32_t*>(&sa[r][16 + 4 * t]);
            fa[i][3] = *reinterpret_cast<const uint32_t*>(&sa[r + 8][16 + 4 * t]);
        }
        for (int j = 0; j < 4; j++) {
            int n = wn + 8 * j + g;
            fb[j][0] = *reinterpret_cast<const uint32_t*>(&sb[n][4 * t]);
            fb[j][1] = *reinterpret_cast<const uint32_t*>(&sb[n][16 + 4 * t]);
        }
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) mma_e4m3(c[i][j], fa[i], fb[j]);
        __syncthreads();
    }
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 4; j++) {
            int r = m0 + wm + 16 * i + g, col = n0 + wn + 8 * j + 2 * t;
            if (r < M && col < N) acc[(size_t)r * N + col] = c[i][j][0];
            if (r < M && col + 1 < N) acc[(size_t)r * N + col + 1] = c[i][j][1];
            if (r + 8 < M && col < N) acc[(size_t)(r + 8) * N + col] = c[i][j][2];
            if (r + 8 < M && col + 1 < N) acc[(size_t)(r + 8) * N + col + 1] = c[i][j][3];
        }
    }
}

// y = acc * sx[m] * sw[n] (+ bias[n]).
extern "C" __global__ void rescale_f32(const float* __restrict__ acc, const float* __restrict__ sx, const float* __restrict__ sw,
                                       const float* __restrict__ bias, float* __restrict__ y, int M, int N, int hasBias) {
    rescale_element(acc, sx, sw, bias, y, M, N, hasBias);
}
