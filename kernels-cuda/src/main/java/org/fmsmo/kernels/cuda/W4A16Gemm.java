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
 * Act-order checkpoints ({@code g_idx}) have their columns sorted by group here, and each
 * forward gathers the input columns in that order; K is zero-padded to a multiple of 128.
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
    /** K padded to the kernels' 128-wide blocks; the padded input columns are zeros. */
    private final int kp;
    private final int group;
    private final int paddedRows;
    /** Input column of each packed column (act-order checkpoints), or null when the order is natural. */
    private final int[] columnOrder;
    private final long packed;
    private final long scales;
    private final long zeros;
    private final long bias;
    private final boolean prefillOnHopper;
    private final Arena maps = Arena.ofShared();
    private MemorySegment mapX;
    private MemorySegment mapW;
    private long dequantized; // [out][kp] FP16, allocated by the first prefill
    private long[] work = new long[0]; // x, y, xh
    private int workTokens;
    private int mappedTokens = -1;
    private boolean closed;

    /**
     * @param codes      [out][in] codes 0..15 (unsigned; symmetric codes shifted by 8)
     * @param scales     [out][groups] scales (rounded to FP16 here, as GPTQ checkpoints store them)
     * @param zeros      [out][groups] zero points, or null for the symmetric offset 8
     * @param bias       [out] or null
     * @param group      input columns per group, or 0 for one group per row (per channel or per tensor)
     * @param groupIndex the group of each input column (GPTQ act-order g_idx), or null for contiguous groups
     * @throws FmsmoException UNSUPPORTED_SPEC for groups the kernels cannot address
     */
    W4A16Gemm(CudaDevice gpu, byte[] codes, float[] scales, int[] zeros, float[] bias, int out, int in, int group, int[] groupIndex) {
        this.gpu = gpu;
        this.out = out;
        this.in = in;
        kp = (in + 127) / 128 * 128;
        this.group = group == 0 ? kp : group;
        if (this.group % 32 != 0 || kp % this.group != 0) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cuda-w4a16 needs groups of a multiple of 32 columns that tile the input "
                    + "padded to " + kp + " columns; got groups of " + group);
        }
        columnOrder = groupIndex == null ? null : groupOrder(groupIndex, this.group);
        int groups = group == 0 ? 1 : (in + group - 1) / group;
        int kernelGroups = kp / this.group;
        paddedRows = (out + ROWS - 1) / ROWS * ROWS;
        // codes in packed-column order, padded with zeros' neighbours (any finite value: the padded inputs are 0)
        byte[] ordered = new byte[Math.multiplyExact(out, kp)];
        for (int o = 0; o < out; o++) {
            for (int j = 0; j < kp; j++) {
                ordered[o * kp + j] = j < in ? codes[o * in + (columnOrder == null ? j : columnOrder[j])] : 8;
            }
        }
        short[] s16 = new short[paddedRows * kernelGroups];
        short[] z16 = zeros == null ? null : new short[paddedRows * kernelGroups];
        for (int o = 0; o < out; o++) {
            for (int g = 0; g < kernelGroups; g++) {
                boolean real = g < groups;
                s16[o * kernelGroups + g] = real ? Float.floatToFloat16(scales[o * groups + g]) : 0;
                if (z16 != null) { // 1024 + z: the kernels subtract it from 1024 + q, exactly
                    z16[o * kernelGroups + g] = Float.floatToFloat16(1024f + (real ? zeros[o * groups + g] : 8));
                }
            }
        }
        if (z16 != null) {
            for (int i = out * kernelGroups; i < z16.length; i++) {
                z16[i] = Float.floatToFloat16(1032f);
            }
        }
        gpu.api.setCurrent(gpu.context);
        this.scales = gpu.upload(MemorySegment.ofArray(s16));
        this.zeros = z16 == null ? 0L : gpu.upload(MemorySegment.ofArray(z16));
        this.bias = bias == null ? 0L : gpu.upload(MemorySegment.ofArray(bias));
        long raw = gpu.upload(MemorySegment.ofArray(ordered));
        try {
            packed = gpu.api.malloc((long) paddedRows * kp / 2);
            long words = (long) paddedRows * kp / 8;
            gpu.api.launch(gpu.function(PTX, "w4_repack"), Math.toIntExact((words + 255) / 256), 1, 256, raw, packed, out, paddedRows, kp, 8);
            gpu.api.synchronize();
        } finally {
            gpu.api.free(raw);
        }
        prefillOnHopper = gpu.hopper();
    }

    /**
     * The input columns sorted by group (stably), so that groups become contiguous runs of the
     * group size, as GPTQ's act-order groups are once sorted; null when already in order.
     */
    static int[] groupOrder(int[] groupIndex, int group) {
        Integer[] order = new Integer[groupIndex.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, java.util.Comparator.comparingInt(i -> groupIndex[i]));
        boolean natural = true;
        int[] result = new int[order.length];
        for (int j = 0; j < order.length; j++) {
            result[j] = order[j];
            natural &= order[j] == j;
            if (groupIndex[order[j]] != j / group) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cuda-w4a16 needs every group of the group index to hold " + group
                        + " columns; column " + order[j] + " is in group " + groupIndex[order[j]] + " at sorted position " + j);
            }
        }
        return natural ? null : result;
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
        if (kp == in && columnOrder == null) {
            gpu.api.copyToDevice(work[0], x.asSlice(0, (long) tokens * in * Float.BYTES));
        } else { // the columns in packed order, zero-padded to kp
            try (Arena a = Arena.ofConfined()) {
                MemorySegment padded = a.allocate((long) tokens * kp * Float.BYTES, 16);
                for (int t = 0; t < tokens; t++) {
                    for (int j = 0; j < in; j++) {
                        float v = x.getAtIndex(ValueLayout.JAVA_FLOAT, (long) t * in + (columnOrder == null ? j : columnOrder[j]));
                        padded.setAtIndex(ValueLayout.JAVA_FLOAT, (long) t * kp + j, v);
                    }
                }
                gpu.api.copyToDevice(work[0], padded);
            }
        }
        run(work[0], work[1], tokens);
        gpu.api.copyToHost(y.asSlice(0, (long) tokens * out * Float.BYTES), work[1]);
    }

    synchronized long[] deviceBuffers(int tokens) {
        gpu.api.setCurrent(gpu.context);
        ensureWork(tokens);
        return new long[] {work[0], work[1]};
    }

    /** The forward on device buffers (x [tokens][kp] in packed column order), asynchronously on the default stream. */
    void run(long dx, long dy, int tokens) {
        run(dx, dy, tokens, MemorySegment.NULL);
    }

    /** The same on a stream, which may be capturing a CUDA graph. */
    synchronized void run(long dx, long dy, int tokens, MemorySegment stream) {
        if (tokens > 16 && prefillOnHopper) {
            prefill(dx, dy, tokens, stream);
            return;
        }
        gpu.api.memset32(dy, 0, (long) tokens * out, stream);
        gpu.api.launchOn(stream, gpu.function(PTX, "w4a16_gemv"), paddedRows / ROWS, (kp + K_SPLIT - 1) / K_SPLIT, (tokens + 15) / 16, 256, 0,
                dx, packed, scales, zeros, bias, dy, tokens, out, kp, group);
    }

    private void prefill(long dx, long dy, int tokens, MemorySegment stream) {
        if (dequantized == 0L) {
            dequantized = gpu.api.malloc((long) out * kp * 2);
            mapW = maps.allocate(CudaApi.TENSOR_MAP_BYTES, 64);
            gpu.api.encodeTensorMap(mapW, CudaApi.TENSOR_MAP_FLOAT16, dequantized, out, kp, TILE_N);
            mapX = maps.allocate(CudaApi.TENSOR_MAP_BYTES, 64);
        }
        long xh = work[2];
        if (mappedTokens != tokens) {
            gpu.api.encodeTensorMap(mapX, CudaApi.TENSOR_MAP_FLOAT16, xh, tokens, kp, HOPPER_BM);
            mappedTokens = tokens;
        }
        long words = (long) out * kp / 32;
        gpu.api.launchOn(stream, gpu.function(PTX, "w4_dequant"), Math.toIntExact((words + 255) / 256), 1, 1, 256, 0, packed, scales, zeros, dequantized,
                out, kp, group);
        long count = (long) tokens * kp;
        gpu.api.launchOn(stream, gpu.function(PTX, "f32_to_f16"), Math.toIntExact((count + 1023) / 1024), 1, 1, 256, 0, dx, xh, count);
        int shared = W8A8Gemm.hopperSharedBytes(TILE_N, 4);
        long tiles = (long) ((tokens + HOPPER_BM - 1) / HOPPER_BM) * ((out + TILE_N - 1) / TILE_N);
        gpu.api.launchOn(stream, gpu.function(CudaDevice.HOPPER_CUBIN, "hopper_f16_rescale_n256", shared), (int) Math.min(tiles, gpu.multiprocessors),
                1, 1, 384, shared, mapX, mapW, dy, 0L, 0L, bias, tokens, out, kp * 2);
    }

    private void ensureWork(int tokens) {
        if (tokens <= workTokens) {
            return;
        }
        freeWork();
        long t = tokens;
        work = new long[] {gpu.api.malloc(t * kp * 4), gpu.api.malloc(t * out * 4), gpu.api.malloc(t * kp * 2)};
        gpu.api.memset32(work[0], 0, t * kp); // padded columns stay zero
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
