package org.fmsmo.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * One weight-only 4-bit linear layer on the GPU (GPTQ, compressed-tensors pack-quantized):
 * y = x · dequant(W)ᵀ + bias with W = s · (q − z) in FP16, and the activations rounded to FP16.
 * The codes are uploaded once and repacked on the GPU into the fragment order of
 * {@code w4a16.cu}; scales and zero points become FP16 rows padded to the GEMV's 256-row blocks.
 * Each forward runs
 * <ul>
 *   <li>up to 16 tokens (decode): the GEMV, dequantizing in registers, its K ranges summed
 *       atomically into a zeroed output;</li>
 *   <li>more tokens on Hopper (prefill): dequantize to FP16 once per call, then the wgmma FP16
 *       GEMM with the bias in its epilogue; elsewhere the GEMV in 16-token slices.</li>
 * </ul>
 * Columns of a permuted GPTQ checkpoint ({@code g_idx}) are taken in group order by the caller.
 */
final class W4A16Gemm implements CudaLinear.Layer {

    static final String PTX = "w4a16.ptx";
    /** Output features per GEMV block; padded rows are computed and never written. */
    static final int ROWS = 256;
    private static final int K_SPLIT = 512;
    private static final int HOPPER_BM = 128;
    private static final int TILE_N = 256;

    private final CudaDevice gpu;
    private final int out;
    private final int in;
    private final int group;
    private final int paddedRows;
    private final long packed;
    private final long scales;
    private final long zeros;
    private final long bias;
    private final boolean prefillOnHopper;
    private final Arena maps = Arena.ofShared();
    private MemorySegment mapX;
    private MemorySegment mapW;
    private long dequantized; // [out][in] FP16, allocated by the first prefill
    private long[] work = new long[0]; // x, y, xh
    private int workTokens;
    private int mappedTokens = -1;
    private boolean closed;

    /**
     * @param codes  [out][in] codes 0..15 (unsigned, as stored with their zero point)
     * @param scales [out][in / group] scales (rounded to FP16 here)
     * @param zeros  [out][in / group] zero points 0..15, or null for the symmetric offset 8
     * @param bias   [out] or null
     */
    W4A16Gemm(CudaDevice gpu, byte[] codes, float[] scales, byte[] zeros, float[] bias, int out, int in, int group) {
        if (in % 128 != 0) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cuda-w4a16 needs the input width to be a multiple of 128; got " + in);
        }
        if (group % 32 != 0 || in % group != 0) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cuda-w4a16 needs a group size that is a multiple of 32 and divides "
                    + in + "; got " + group);
        }
        this.gpu = gpu;
        this.out = out;
        this.in = in;
        this.group = group;
        paddedRows = (out + ROWS - 1) / ROWS * ROWS;
        int groups = in / group;
        gpu.api.setCurrent(gpu.context);
        short[] s16 = new short[paddedRows * groups];
        short[] z16 = zeros == null ? null : new short[paddedRows * groups];
        for (int i = 0; i < paddedRows * groups; i++) {
            boolean real = i < out * groups;
            s16[i] = real ? Float.floatToFloat16(scales[i]) : 0;
            if (z16 != null) {
                z16[i] = Float.floatToFloat16(1024f + (real ? zeros[i] & 15 : 8)); // 1024 + z, as the kernels subtract it
            }
        }
        this.scales = upload(MemorySegment.ofArray(s16));
        this.zeros = z16 == null ? 0L : upload(MemorySegment.ofArray(z16));
        this.bias = bias == null ? 0L : upload(MemorySegment.ofArray(bias));
        long raw = upload(MemorySegment.ofArray(codes));
        try {
            packed = gpu.api.malloc((long) paddedRows * in / 2);
            long words = (long) paddedRows * in / 8;
            gpu.api.launch(gpu.function(PTX, "w4_repack"), Math.toIntExact((words + 255) / 256), 1, 256, raw, packed, out, paddedRows, in, 8);
            gpu.api.synchronize();
        } finally {
            gpu.api.free(raw);
        }
        prefillOnHopper = gpu.hopper();
    }

    private long upload(MemorySegment host) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment offHeap = a.allocate(host.byteSize(), 16);
            offHeap.copyFrom(host);
            long p = gpu.api.malloc(host.byteSize());
            gpu.api.copyToDevice(p, offHeap);
            return p;
        }
    }

    @Override
    public int in() {
        return in;
    }

    @Override
    public int out() {
        return out;
    }

    String describe(int tokens) {
        return tokens <= 16 || !prefillOnHopper ? "w4a16_gemv (mma.sync m16n8k16, in-register dequantization)"
                : "w4_dequant + hopper_f16_rescale_n256 (wgmma)";
    }

    @Override
    public synchronized void forward(MemorySegment x, MemorySegment y, int tokens) {
        gpu.api.setCurrent(gpu.context);
        ensureWork(tokens);
        gpu.api.copyToDevice(work[0], x.asSlice(0, (long) tokens * in * Float.BYTES));
        run(work[0], work[1], tokens);
        gpu.api.copyToHost(y.asSlice(0, (long) tokens * out * Float.BYTES), work[1]);
    }

    synchronized long[] deviceBuffers(int tokens) {
        gpu.api.setCurrent(gpu.context);
        ensureWork(tokens);
        return new long[] {work[0], work[1]};
    }

    /** The forward on device buffers, asynchronously on the default stream. */
    synchronized void run(long dx, long dy, int tokens) {
        if (tokens > 16 && prefillOnHopper) {
            prefill(dx, dy, tokens);
            return;
        }
        gpu.api.memset32(dy, 0, (long) tokens * out);
        gpu.api.launch3d(gpu.function(PTX, "w4a16_gemv"), paddedRows / ROWS, (in + K_SPLIT - 1) / K_SPLIT, (tokens + 15) / 16, 256, 0,
                dx, packed, scales, zeros, bias, dy, tokens, out, in, group);
    }

    private void prefill(long dx, long dy, int tokens) {
        if (dequantized == 0L) {
            dequantized = gpu.api.malloc((long) out * in * 2);
            mapW = maps.allocate(CudaApi.TENSOR_MAP_BYTES, 64);
            gpu.api.encodeTensorMap(mapW, CudaApi.TENSOR_MAP_FLOAT16, dequantized, out, in, TILE_N);
            mapX = maps.allocate(CudaApi.TENSOR_MAP_BYTES, 64);
        }
        long xh = work[2];
        if (mappedTokens != tokens) {
            gpu.api.encodeTensorMap(mapX, CudaApi.TENSOR_MAP_FLOAT16, xh, tokens, in, HOPPER_BM);
            mappedTokens = tokens;
        }
        long words = (long) out * in / 32;
        gpu.api.launch(gpu.function(PTX, "w4_dequant"), Math.toIntExact((words + 255) / 256), 1, 256, packed, scales, zeros, dequantized,
                out, in, group);
        long count = (long) tokens * in;
        gpu.api.launch(gpu.function(PTX, "f32_to_f16"), Math.toIntExact((count + 1023) / 1024), 1, 256, dx, xh, count);
        int shared = 4 * (HOPPER_BM + TILE_N) * 128 + 16 * 4 + 1024;
        long tiles = (long) ((tokens + HOPPER_BM - 1) / HOPPER_BM) * ((out + TILE_N - 1) / TILE_N);
        gpu.api.launch3d(gpu.function(CudaDevice.HOPPER_CUBIN, "hopper_f16_rescale_n256", shared), (int) Math.min(tiles, gpu.multiprocessors),
                1, 1, 384, shared, mapX, mapW, dy, 0L, 0L, bias, tokens, out, in * 2);
    }

    private void ensureWork(int tokens) {
        if (tokens <= workTokens) {
            return;
        }
        freeWork();
        long t = tokens;
        work = new long[] {gpu.api.malloc(t * in * 4), gpu.api.malloc(t * out * 4), gpu.api.malloc(t * in * 2)};
        workTokens = tokens;
        mappedTokens = -1;
    }

    private void freeWork() {
        for (long p : work) {
            gpu.api.free(p);
        }
        work = new long[0];
        workTokens = 0;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            gpu.api.setCurrent(gpu.context);
            freeWork();
            for (long p : new long[] {packed, scales, zeros, bias, dequantized}) {
                if (p != 0L) {
                    gpu.api.free(p);
                }
            }
        } catch (RuntimeException e) {
            // close never throws
        } finally {
            maps.close();
        }
    }
}
