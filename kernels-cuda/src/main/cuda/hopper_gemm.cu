// fmsmo GEMMs for Hopper (sm_90a): C = A · Bᵀ on the warpgroup tensor cores (wgmma), fed by TMA.
//
// Layouts (row-major, as the Java side and gpu_gemm.py hand them over):
//   A [M][Kp]  activation codes (int8, e4m3) or FP16 values; Kp a multiple of 16 bytes per row
//   B [N][Kp]  weight codes or FP16 values, the same K
//   out [M][N] float (the rescaled output) or the raw accumulators (int32 for int8, float otherwise)
// Both operands are K-major, the only layout 8-bit wgmma accepts, and the layout of our buffers.
//
// The kernel is warp-specialised and persistent:
//   - one CTA per SM loops over output tiles BM x BN (grouped along M so that neighbouring CTAs
//     share weight tiles in L2);
//   - warpgroup 0 is the producer: one thread issues TMA loads of 128-byte-wide K slices of A and
//     B into a ring of STAGES shared-memory buffers, each guarded by a "full" mbarrier (TMA
//     completes its transaction bytes) and an "empty" one (the consumers are done with it);
//   - warpgroups 1 and 2 are consumers: each owns 64 rows of the tile, issues 4 wgmma per stage
//     (K = 32 bytes each) on 128B-swizzled shared memory, keeps one stage of wgmma in flight, and
//     at the end of the tile applies the epilogue straight from its accumulator registers:
//     y = acc · sx[m] · sw[n] (+ bias[n]) in the same float order as the CPU backend.
// Out-of-range rows and K columns are zero-filled by TMA, so any M, N and Kp (multiple of 16 bytes) work.
#include <cuda.h>
#include <type_traits>
#include <cstdint>
#include "wgmma_ops.cuh"

namespace {

enum class Op { S8, E4M3, F16 };
enum Epilogue { ACCUMULATORS = 0, RESCALE = 1 };

constexpr int BM = 128;            // rows per tile: two consumer warpgroups of 64
constexpr int SLICE = 128;         // bytes of K per stage: one 128-byte swizzle row
constexpr int CONSUMERS = 2;
constexpr int THREADS = 128 * (CONSUMERS + 1);
constexpr int GROUP_M = 8;         // tile rows per L2 group

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void mbar_init(uint64_t* bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t* bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_u32(bar)) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
    uint32_t done;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done) : "r"(smem_u32(bar)), "r"(parity) : "memory");
    } while (!done);
}
// One box of a 2-D tensor map into shared memory; completion is counted in bytes on bar.
__device__ __forceinline__ void tma_load(void* dst, const CUtensorMap* map, uint64_t* bar, int inner, int outer) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n"
                 ::"r"(smem_u32(dst)), "l"(map), "r"(smem_u32(bar)), "r"(inner), "r"(outer) : "memory");
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
// Keeps the compiler from moving accumulator reads across the asynchronous wgmma (as CUTLASS does).
template <typename T, int R>
__device__ __forceinline__ void fence_operands(T (&d)[R]) {
#pragma unroll
    for (int i = 0; i < R; i++) {
        if constexpr (sizeof(T) == 4) asm volatile("" : "+r"(*reinterpret_cast<uint32_t*>(&d[i]))::"memory");
    }
}

// Shared-memory matrix descriptor for a K-major operand in the 128-byte swizzle layout that TMA
// wrote: 8-row core groups 1024 bytes apart (stride byte offset), leading byte offset unused.
__device__ __forceinline__ uint64_t smem_desc(const void* p) {
    uint64_t a = smem_u32(p);
    return ((a & 0x3FFFF) >> 4) | (uint64_t(16 >> 4) << 16) | (uint64_t(1024 >> 4) << 32) | (1ull << 62);
}

template <Op OP, int BN>
__device__ __forceinline__ void mma(typename std::conditional<OP == Op::S8, int, float>::type (&d)[BN / 2], uint64_t a, uint64_t b,
                                    int scale_d) {
    if constexpr (OP == Op::S8) {
        if constexpr (BN == 256) wgmma_s8_n256(d, a, b, scale_d); else wgmma_s8_n128(d, a, b, scale_d);
    } else if constexpr (OP == Op::E4M3) {
        if constexpr (BN == 256) wgmma_e4m3_n256(d, a, b, scale_d); else wgmma_e4m3_n128(d, a, b, scale_d);
    } else {
        if constexpr (BN == 256) wgmma_f16_n256(d, a, b, scale_d); else wgmma_f16_n128(d, a, b, scale_d);
    }
}

// Tile t of the persistent loop -> (tile row, tile column), in groups of GROUP_M tile rows.
__device__ __forceinline__ void tile_coords(int t, int tiles_m, int tiles_n, int& tm, int& tn) {
    int per_group = GROUP_M * tiles_n;
    int first = (t / per_group) * GROUP_M;
    int rows = min(tiles_m - first, GROUP_M);
    int r = t % per_group;
    tm = first + r % rows;
    tn = r / rows;
}

template <typename Acc>
__device__ __forceinline__ float rescaled(Acc acc, float sx, float sw, bool has_bias, float bias) {
    // sx = sw = 1 for the FP16 path: exact multiplications that keep the float order of the rest
    float v = __fmul_rn(__fmul_rn(static_cast<float>(acc), sx), sw);
    return has_bias ? __fadd_rn(v, bias) : v;
}

// PROMOTE (FP8 only): Hopper's FP8 tensor cores keep fewer accumulator bits than FP32 (the
// measured error of a K = 4096 sum is ~1e-3 of Σ|a·b|). With PROMOTE each 128-wide K slice is
// summed by wgmma into a fresh accumulator and then added into FP32 registers, as cuBLASLt
// does without its "fast accumulation" option; it costs a wgmma wait per slice.
template <Op OP, int BN, int STAGES, int EPI, bool PROMOTE = false>
__device__ __forceinline__ void gemm(const CUtensorMap* map_a, const CUtensorMap* map_b, void* __restrict__ out,
                                     const float* __restrict__ sx, const float* __restrict__ sw, const float* __restrict__ bias,
                                     int M, int N, int k_bytes) {
    using Acc = typename std::conditional<OP == Op::S8, int, float>::type;
    constexpr int ELEMENT = OP == Op::F16 ? 2 : 1;
    constexpr int A_BYTES = BM * SLICE, B_BYTES = BN * SLICE;
    extern __shared__ uint8_t raw[];
    // 128B swizzle needs 1024-byte aligned tiles; the launch asks for 1 KiB more than the tiles need
    uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + 1023) & ~uintptr_t(1023));
    uint8_t* sa = base;
    uint8_t* sb = base + STAGES * A_BYTES;
    uint64_t* full = reinterpret_cast<uint64_t*>(sb + STAGES * B_BYTES);
    uint64_t* empty = full + STAGES;
    // per consumer warpgroup: the tile's weight scales and bias, staged for the epilogue (see there)
    float* columns = reinterpret_cast<float*>(empty + STAGES) + (threadIdx.x / 128 - 1) * 2 * BN;

    const int wg = threadIdx.x / 128, tid = threadIdx.x % 128;
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            mbar_init(&full[s], 1);
            mbar_init(&empty[s], CONSUMERS);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    const int tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN, tiles = tiles_m * tiles_n;
    const int slices = (k_bytes + SLICE - 1) / SLICE;

    if (wg == 0) {  // producer
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n");
        if (tid != 0) return;
        int it = 0;
        for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
            int tm, tn;
            tile_coords(t, tiles_m, tiles_n, tm, tn);
            for (int k = 0; k < slices; k++, it++) {
                int s = it % STAGES;
                if (it >= STAGES) mbar_wait(&empty[s], ((it / STAGES) - 1) & 1);
                mbar_expect_tx(&full[s], A_BYTES + B_BYTES);
                tma_load(sa + s * A_BYTES, map_a, &full[s], k * (SLICE / ELEMENT), tm * BM);
                tma_load(sb + s * B_BYTES, map_b, &full[s], k * (SLICE / ELEMENT), tn * BN);
            }
        }
        return;
    }

    asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n");
    const int c = wg - 1;
    Acc d[BN / 2];
    int it = 0;
    for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
        int tm, tn;
        tile_coords(t, tiles_m, tiles_n, tm, tn);
        if constexpr (PROMOTE) {
            Acc part[BN / 2];
            for (int k = 0; k < slices; k++, it++) {
                int s = it % STAGES;
                mbar_wait(&full[s], (it / STAGES) & 1);
                wgmma_fence();
                const uint8_t* a = sa + s * A_BYTES + c * 64 * SLICE;
                const uint8_t* b = sb + s * B_BYTES;
#pragma unroll
                for (int kk = 0; kk < SLICE / 32; kk++) mma<OP, BN>(part, smem_desc(a + 32 * kk), smem_desc(b + 32 * kk), kk != 0);
                wgmma_commit();
                wgmma_wait<0>();
                fence_operands(part);
                if (tid == 0) mbar_arrive(&empty[s]);
#pragma unroll
                for (int i = 0; i < BN / 2; i++) d[i] = k == 0 ? part[i] : d[i] + part[i];
            }
        } else {
            int previous = -1;
            for (int k = 0; k < slices; k++, it++) {
                int s = it % STAGES;
                mbar_wait(&full[s], (it / STAGES) & 1);
                wgmma_fence();
                const uint8_t* a = sa + s * A_BYTES + c * 64 * SLICE;
                const uint8_t* b = sb + s * B_BYTES;
#pragma unroll
                for (int kk = 0; kk < SLICE / 32; kk++) mma<OP, BN>(d, smem_desc(a + 32 * kk), smem_desc(b + 32 * kk), (k | kk) != 0);
                wgmma_commit();
                wgmma_wait<1>();  // the previous stage's wgmma are done: hand its buffers back
                if (previous >= 0 && tid == 0) mbar_arrive(&empty[previous]);
                previous = s;
            }
            wgmma_wait<0>();
            fence_operands(d);
            if (tid == 0) mbar_arrive(&empty[previous]);
        }

        // epilogue: thread (warp w, lane) holds rows w*16 + lane/4 (+8), columns 8j + 2*(lane%4) (+1).
        // The tile's weight scales and bias go through shared memory first: read from global memory
        // between the output stores, they cost as much as a quarter of the GEMM (measured on an
        // H200), since the compiler cannot move them ahead of stores to memory it cannot tell apart.
        const int lane = tid % 32, warp = tid / 32;
        const int row0 = tm * BM + c * 64 + warp * 16 + lane / 4;
        const int col0 = tn * BN + 2 * (lane % 4);
        if constexpr (EPI == RESCALE) {
            asm volatile("bar.sync %0, 128;\n" ::"r"(1 + c));  // the previous tile's epilogue is done with the buffer
            for (int i = tid; i < BN; i += 128) {
                int col = tn * BN + i;
                columns[i] = sw && col < N ? sw[col] : 1.f;
                columns[BN + i] = bias && col < N ? bias[col] : 0.f;
            }
            asm volatile("bar.sync %0, 128;\n" ::"r"(1 + c));
        }
        const bool pairs = (N % 2) == 0;
        float scale_x[2] = {1.f, 1.f};
        if (EPI == RESCALE && sx) {
            if (row0 < M) scale_x[0] = sx[row0];
            if (row0 + 8 < M) scale_x[1] = sx[row0 + 8];
        }
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
            const int col = col0 + 8 * j;
            if (col >= N) break;
            const bool two = col + 1 < N;
            float w0 = 1.f, w1 = 1.f, b0 = 0.f, b1 = 0.f;
            if constexpr (EPI == RESCALE) {
                const int local = col - tn * BN;
                w0 = columns[local];
                w1 = columns[local + 1];  // past N: 1 and 0, never stored
                b0 = columns[BN + local];
                b1 = columns[BN + local + 1];
            }
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int row = row0 + 8 * h;
                if (row >= M) continue;
                Acc v0 = d[4 * j + 2 * h], v1 = d[4 * j + 2 * h + 1];
                if constexpr (EPI == ACCUMULATORS) {
                    Acc* y = static_cast<Acc*>(out) + static_cast<size_t>(row) * N + col;
                    if (pairs && two) {
                        if constexpr (OP == Op::S8) *reinterpret_cast<int2*>(y) = make_int2(v0, v1);
                        else *reinterpret_cast<float2*>(y) = make_float2(v0, v1);
                    } else {
                        y[0] = v0;
                        if (two) y[1] = v1;
                    }
                } else {
                    float* y = static_cast<float*>(out) + static_cast<size_t>(row) * N + col;
                    float r0 = rescaled(v0, scale_x[h], w0, bias != nullptr, b0);
                    float r1 = rescaled(v1, scale_x[h], w1, bias != nullptr, b1);
                    if (pairs && two) {
                        *reinterpret_cast<float2*>(y) = make_float2(r0, r1);
                    } else {
                        y[0] = r0;
                        if (two) y[1] = r1;
                    }
                }
            }
        }
    }
}

}  // namespace

// Shared memory each variant needs: tiles + barriers + the epilogue's column vectors (2 consumer
// warpgroups x 2 x BN floats) + 1 KiB alignment slack; the launcher sets
// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES to it. Stages: 4 x 48 KiB for BN = 256,
// 6 x 32 KiB for BN = 128.
#define HOPPER_GEMM(NAME, OP, BN, STAGES, EPI, ...)                                                                        \
    extern "C" __global__ void __launch_bounds__(THREADS, 1)                                                          \
        NAME(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b, void* out,          \
             const float* sx, const float* sw, const float* bias, int M, int N, int k_bytes) {                        \
        gemm<OP, BN, STAGES, EPI, ##__VA_ARGS__>(&map_a, &map_b, out, sx, sw, bias, M, N, k_bytes);                             \
    }

HOPPER_GEMM(hopper_s8_acc_n256, Op::S8, 256, 4, ACCUMULATORS)
HOPPER_GEMM(hopper_s8_rescale_n256, Op::S8, 256, 4, RESCALE)
HOPPER_GEMM(hopper_s8_acc_n128, Op::S8, 128, 6, ACCUMULATORS)
HOPPER_GEMM(hopper_s8_rescale_n128, Op::S8, 128, 6, RESCALE)
HOPPER_GEMM(hopper_e4m3_acc_n256, Op::E4M3, 256, 4, ACCUMULATORS)
HOPPER_GEMM(hopper_e4m3_rescale_n256, Op::E4M3, 256, 4, RESCALE)
HOPPER_GEMM(hopper_e4m3_acc_n128, Op::E4M3, 128, 6, ACCUMULATORS)
HOPPER_GEMM(hopper_e4m3_rescale_n128, Op::E4M3, 128, 6, RESCALE)
HOPPER_GEMM(hopper_e4m3p_acc_n128, Op::E4M3, 128, 6, ACCUMULATORS, true)
HOPPER_GEMM(hopper_e4m3p_rescale_n128, Op::E4M3, 128, 6, RESCALE, true)
HOPPER_GEMM(hopper_f16_rescale_n256, Op::F16, 256, 4, RESCALE)
HOPPER_GEMM(hopper_f16_rescale_n128, Op::F16, 128, 6, RESCALE)
