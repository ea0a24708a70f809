// fmsmo W8A8 INT8 linear on tensor cores: quantize -> int8 x int8 -> int32 GEMM -> rescale.
//
// Layouts (all row-major, as the Java side hands them over):
//   x  [M][K]  float      activations
//   q  [M][Kp] int8       activation codes, K padded with zeros to Kp (a multiple of 32)
//   w  [N][Kp] int8       weight codes, same padding (zeros add nothing to the sums)
//   acc[M][N]  int32      exact accumulators
//   y  [M][N]  float      acc * sx[m] * sw[n] + bias[n]
//
// C = A · Bᵀ with A = q and B = w is the "row.col" case of the tensor-core MMA, so both operands
// are read along K with 16-byte loads. The GEMM uses the WMMA API (16x16x16 s8 fragments, int32
// accumulators), which compiles to IMMA instructions and leaves fragment layouts to the compiler.
#include <mma.h>
#include <cstdint>
#include "quant_common.cuh"

using namespace nvcuda;

namespace {
constexpr int BM = 128;          // block tile rows (tokens)
constexpr int BN = 128;          // block tile columns (weight rows)
constexpr int BK = 32;           // K per stage
constexpr int WARPS_M = 4;       // warps along M; each warp owns 32 rows
constexpr int WARPS_N = 2;       // warps along N; each warp owns 64 columns
constexpr int THREADS = 32 * WARPS_M * WARPS_N;
// Shared memory holds each stage as BK/16 slices of [rows][LDS] bytes, 16 bytes of K per row plus
// 16 of padding: every fragment pointer is then 32-byte aligned, as WMMA loads require (a slice
// offset of 16 bytes inside one row would not be).
constexpr int SLICES = BK / 16;
constexpr int LDS = 32;

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    int bytes = valid ? 16 : 0;  // 0 source bytes: the 16 destination bytes are zero-filled
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }

// Stage one BM x BK tile of A and one BN x BK tile of B (rows past M or N read as zeros).
__device__ __forceinline__ void load_stage(int8_t (*sa)[BM][LDS], int8_t (*sb)[BN][LDS], const int8_t* a, const int8_t* b,
                                           int M, int N, int Kp, int m0, int n0, int k0) {
    // BM * BK / 16 = 256 chunks of 16 bytes per operand: one per thread
    for (int c = threadIdx.x; c < BM * SLICES; c += THREADS) {
        int row = c / SLICES;
        int slice = c % SLICES;
        int gm = m0 + row;
        cp_async16(&sa[slice][row][0], a + (size_t)min(gm, M - 1) * Kp + k0 + 16 * slice, gm < M);
        int gn = n0 + row;
        cp_async16(&sb[slice][row][0], b + (size_t)min(gn, N - 1) * Kp + k0 + 16 * slice, gn < N);
    }
}
}  // namespace

// Per-token symmetric quantization, as the simulated per-token quantizer: s = max|x| / qmax in
// float (1 for an all-zero row), q = clamp(rint(x / s), -qmax, qmax); padding columns get 0.
// One block per token.
extern "C" __global__ void quantize_per_token(const float* __restrict__ x, int8_t* __restrict__ q, float* __restrict__ sx,
                                              int M, int K, int Kp, int qmax) {
    int m = blockIdx.x;
    if (m >= M) return;
    const float limit = (float)qmax;
    auto encode = [limit](float v, float s) { return (uint8_t)(int8_t)fmaxf(-limit, fminf(limit, rintf(__fdiv_rn(v, s)))); };
    if (quantize_row_in_registers(x + (size_t)m * K, reinterpret_cast<uint8_t*>(q) + (size_t)m * Kp, &sx[m], K, Kp, limit, encode)) return;
    float s = row_scale(x + (size_t)m * K, K, (float)qmax, &sx[m]);
    for (int k = threadIdx.x; k < Kp; k += blockDim.x) {
        float v = k < K ? rintf(__fdiv_rn(x[(size_t)m * K + k], s)) : 0.f;
        q[(size_t)m * Kp + k] = (int8_t)fmaxf(-(float)qmax, fminf((float)qmax, v));
    }
}

// Static (per-tensor) symmetric quantization with the calibrated scale.
extern "C" __global__ void quantize_static(const float* __restrict__ x, int8_t* __restrict__ q, float scale,
                                           int M, int K, int Kp, int qmax) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)M * Kp) return;
    int m = (int)(i / Kp), k = (int)(i % Kp);
    float v = k < K ? rintf(__fdiv_rn(x[(size_t)m * K + k], scale)) : 0.f;
    q[i] = (int8_t)fmaxf(-(float)qmax, fminf((float)qmax, v));
}

// acc = a · bᵀ, exact int32. Kp must be a multiple of BK; rows of a and b are Kp bytes, 16-byte aligned.
extern "C" __global__ void __launch_bounds__(THREADS) gemm_s8s8s32(const int8_t* __restrict__ a, const int8_t* __restrict__ b,
                                                                   int32_t* __restrict__ acc, int M, int N, int Kp) {
    __shared__ __align__(128) int8_t sa[2][SLICES][BM][LDS];
    __shared__ __align__(128) int8_t sb[2][SLICES][BN][LDS];
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int warp = threadIdx.x / 32;
    const int wm = (warp / WARPS_N) * 32;  // warp's rows within the block tile
    const int wn = (warp % WARPS_N) * 64;  // warp's columns

    wmma::fragment<wmma::accumulator, 16, 16, 16, int> c[2][4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) wmma::fill_fragment(c[i][j], 0);

    const int stages = Kp / BK;
    load_stage(sa[0], sb[0], a, b, M, N, Kp, m0, n0, 0);
    cp_async_commit();
    for (int s = 0; s < stages; s++) {
        cp_async_wait_all();
        __syncthreads();
        if (s + 1 < stages) {  // prefetch the next stage while this one is multiplied
            load_stage(sa[(s + 1) & 1], sb[(s + 1) & 1], a, b, M, N, Kp, m0, n0, (s + 1) * BK);
            cp_async_commit();
        }
        const int buf = s & 1;
        for (int slice = 0; slice < SLICES; slice++) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, signed char, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, signed char, wmma::col_major> fb[4];
            for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], &sa[buf][slice][wm + 16 * i][0], LDS);
            // B stored [n][k]: as a K x N matrix that is column-major with leading dimension LDS
            for (int j = 0; j < 4; j++) wmma::load_matrix_sync(fb[j], &sb[buf][slice][wn + 16 * j][0], LDS);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 4; j++) wmma::mma_sync(c[i][j], fa[i], fb[j], c[i][j]);
        }
        __syncthreads();
    }
    // Edge tiles go through shared memory so that rows past M and columns past N are not written.
    __shared__ __align__(128) int32_t tile[WARPS_M * WARPS_N][16][16];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 4; j++) {
            int gm = m0 + wm + 16 * i, gn = n0 + wn + 16 * j;
            // direct stores need 32-byte aligned rows: N a multiple of 8
            if (gm + 16 <= M && gn + 16 <= N && N % 8 == 0) {
                wmma::store_matrix_sync(acc + (size_t)gm * N + gn, c[i][j], N, wmma::mem_row_major);
            } else {
                wmma::store_matrix_sync(&tile[warp][0][0], c[i][j], 16, wmma::mem_row_major);
                __syncwarp();
                for (int e = threadIdx.x % 32; e < 256; e += 32) {
                    int r = e / 16, cc = e % 16;
                    if (gm + r < M && gn + cc < N) acc[(size_t)(gm + r) * N + gn + cc] = tile[warp][r][cc];
                }
                __syncwarp();
            }
        }
    }
}

// y = acc * sx[m] * sw[n] (+ bias[n]), in the same float order as the CPU backend and the simulation.
extern "C" __global__ void rescale(const int32_t* __restrict__ acc, const float* __restrict__ sx, const float* __restrict__ sw,
                                   const float* __restrict__ bias, float* __restrict__ y, int M, int N, int hasBias) {
    rescale_element(acc, sx, sw, bias, y, M, N, hasBias);
}
