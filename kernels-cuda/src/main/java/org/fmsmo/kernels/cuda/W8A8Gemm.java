package org.fmsmo.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * One W8A8 linear layer on the GPU, on plain memory: y[tokens][out] = rescale(quantize(x) · Wᵀ).
 * The weight codes (rows zero-padded to a multiple of 32 bytes along K, which adds nothing to any
 * sum), per-row scales and bias are uploaded once; each forward quantizes the input per token (or
 * with the calibrated static scale) exactly as the simulation does, then multiplies:
 * <ul>
 *   <li>{@link Kernel#WGMMA} (Hopper): the persistent wgmma/TMA GEMM of {@code hopper_gemm.cu},
 *       with the rescale {@code acc · sx[m] · sw[n] + bias[n]} fused into its epilogue; the tile
 *       width (128 or 256 columns) is chosen per shape for the fewest idle SMs in the last wave;</li>
 *   <li>{@link Kernel#MMA} (sm_80+): the portable mma.sync GEMM into accumulators, then the rescale kernel;</li>
 *   <li>{@link Kernel#CUBLASLT}: NVIDIA's cuBLASLt into accumulators, then the rescale kernel (a
 *       shape cuBLASLt has no algorithm for runs our own kernel);</li>
 *   <li>{@link Kernel#AUTO}: for each token count (rounded up to a power of two) the first forward
 *       times our kernel and cuBLASLt and keeps the faster.</li>
 * </ul>
 * Both give the same floats for INT8 (exact accumulators, one rounding order). Work buffers are
 * kept and grown. One forward at a time.
 */
final class W8A8Gemm implements CudaLinear.Layer {

    /** K padding: the GEMM kernels consume K in steps of 32 bytes. */
    static final int K_STEP = 32;
    private static final int HOPPER_BM = 128;

    enum Kernel { MMA, WGMMA, CUBLASLT, AUTO }

    private final CudaDevice gpu;
    private final GemmKind kind;
    private final Kernel kernel;
    /** Our own kernel on this GPU: WGMMA on Hopper, else MMA. */
    private final Kernel own;
    private final boolean promoted;
    private final java.util.Map<Integer, Kernel> chosen = new java.util.TreeMap<>();
    private final java.util.Map<Integer, java.util.Optional<CublasLt.Plan>> plans = new java.util.HashMap<>();
    private final java.util.Map<Integer, Boolean> agrees = new java.util.HashMap<>();
    private final java.util.Map<Integer, String> disagreements = new java.util.HashMap<>();
    final int out;
    final int in;
    final int kp;
    private final long weight;
    private final long weightScale;
    private final long bias;
    private final float staticScale;
    private final int qmax;
    private final int tileN;
    private final Arena maps = Arena.ofShared();
    private final MemorySegment mapA;
    private final MemorySegment mapB;
    private long[] work = new long[0]; // x, q, sx, acc, y
    private int workTokens;
    private int mappedTokens = -1;
    private boolean closed;

    /**
     * @param codes       [out][in] weight codes (int8, or e4m3 bytes)
     * @param rowScales   [out] weight scale per output row
     * @param bias        [out] or null
     * @param staticScale the calibrated input scale, or NaN for per-token scales computed at run time
     * @param inputBits   bits of the input codes (8), for the int8 clamp
     * @param promoted    FP8 only: promote each K slice into FP32 registers (Hopper), see hopper_gemm.cu
     */
    W8A8Gemm(CudaDevice gpu, GemmKind kind, Kernel kernel, byte[] codes, float[] rowScales, float[] bias, int out, int in,
             float staticScale, int inputBits, boolean promoted) {
        this.gpu = gpu;
        this.kind = kind;
        this.kernel = kernel;
        own = kernel == Kernel.MMA || kernel == Kernel.WGMMA ? kernel : gpu.hopper() ? Kernel.WGMMA : Kernel.MMA;
        this.promoted = promoted && kind == GemmKind.FP8 && own == Kernel.WGMMA;
        this.out = out;
        this.in = in;
        this.staticScale = staticScale;
        qmax = (1 << (inputBits - 1)) - 1;
        kp = (in + K_STEP - 1) / K_STEP * K_STEP;
        byte[] padded = new byte[Math.multiplyExact(out, kp)];
        for (int o = 0; o < out; o++) {
            System.arraycopy(codes, o * in, padded, o * kp, in);
        }
        gpu.api.setCurrent(gpu.context);
        weight = gpu.upload(MemorySegment.ofArray(padded));
        weightScale = gpu.upload(MemorySegment.ofArray(rowScales));
        this.bias = bias == null ? 0L : gpu.upload(MemorySegment.ofArray(bias));
        if (own == Kernel.WGMMA) {
            tileN = this.promoted ? 128 : tileWidth(out, gpu.multiprocessors);
            mapA = maps.allocate(CudaApi.TENSOR_MAP_BYTES, 64);
            mapB = maps.allocate(CudaApi.TENSOR_MAP_BYTES, 64);
            gpu.api.encodeTensorMap(mapB, CudaApi.TENSOR_MAP_UINT8, weight, out, kp, tileN);
        } else {
            tileN = 0;
            mapA = mapB = null;
        }
    }

    /**
     * 256-column tiles unless 128 leaves clearly fewer SMs idle in the last wave (tokens are not
     * known here; M = 4096 stands for prefill, where the choice matters).
     */
    static int tileWidth(int out, int multiprocessors) {
        double wide = waveEfficiency(4096, out, 256, multiprocessors);
        double narrow = waveEfficiency(4096, out, 128, multiprocessors);
        return narrow > wide * 1.02 ? 128 : 256;
    }

    private static double waveEfficiency(int m, int n, int tileN, int sms) {
        long tiles = (long) ((m + HOPPER_BM - 1) / HOPPER_BM) * ((n + tileN - 1) / tileN);
        long waves = (tiles + sms - 1) / sms;
        return (double) tiles / (waves * sms);
    }

    @Override
    public int in() {
        return in;
    }

    @Override
    public int out() {
        return out;
    }

    /** The kernel and tile this layer runs, for diagnostics; with AUTO, the choice per token-count bucket so far. */
    synchronized String describe() {
        return switch (kernel) {
            case MMA, WGMMA -> describe(kernel);
            case CUBLASLT -> describe(Kernel.CUBLASLT) + (plans.values().stream().anyMatch(java.util.Optional::isEmpty)
                    ? "; " + describe(own) + " where cuBLASLt has no algorithm" : "");
            case AUTO -> "auto " + (chosen.isEmpty() ? "(nothing run yet)" : chosen.toString())
                    + (disagreements.isEmpty() ? "" : "; cuBLASLt not used where it failed or disagreed with our kernel: " + disagreements);
        };
    }

    private String describe(Kernel k) {
        return switch (k) {
            case MMA -> kind.gemm + " (mma.sync) + " + kind.rescale;
            case WGMMA -> hopperKernel() + " (wgmma, TMA, fused rescale)";
            case CUBLASLT -> "cuBLASLt " + gpu.cublasLt().map(CublasLt::describe).orElse("?") + " + " + kind.rescale;
            case AUTO -> "auto";
        };
    }

    /**
     * The kernel that runs for this many tokens: the configured one, or the measured choice for
     * AUTO. cuBLASLt runs only where it has an algorithm for the shape and where its output agreed
     * with our kernel's on this layer (checked once per token-count bucket, {@link #cublasAgrees}).
     */
    private Kernel kernelFor(int tokens, long dx, long dy, MemorySegment stream) {
        int bucket = Integer.highestOneBit(Math.max(1, tokens - 1)) << (tokens > 1 ? 1 : 0);
        Kernel k = kernel;
        if (k == Kernel.AUTO) {
            k = chosen.get(bucket);
            if (k == null) {
                try {
                    k = plan(tokens).isPresent() && cublasAgrees(bucket, tokens, dx, dy) ? measure(tokens, dx, dy) : own;
                } catch (FmsmoException e) { // cuBLASLt refused the shape or failed: our kernel serves, and the reason is kept
                    disagreements.put(bucket, "cuBLASLt failed: " + e.getMessage());
                    k = own;
                }
                chosen.put(bucket, k);
            }
        } else if (k == Kernel.CUBLASLT) {
            if (plan(tokens).isEmpty()) {
                return own;
            }
            if (!cublasAgrees(bucket, tokens, dx, dy)) {
                throw new FmsmoException(ErrorCode.INTERNAL, kind.backendName + " gemm=cublaslt: cuBLASLt's output disagrees with our "
                        + describe(own) + " at " + tokens + " tokens (" + disagreements.get(bucket) + "); use gemm=auto or gemm="
                        + own.name().toLowerCase(java.util.Locale.ROOT));
            }
        }
        return k;
    }

    /**
     * Our kernel is the reference cuBLASLt is checked against: both run on the same input, INT8
     * outputs must be equal bit for bit (exact accumulators, the same rescale), FP8 outputs within
     * 2^-7 of the largest output (two fast FP8 accumulations in different orders; a wrong layout
     * differs by the outputs' own size). Once per token-count bucket; the verdict is kept.
     */
    private boolean cublasAgrees(int bucket, int tokens, long dx, long dy) {
        Boolean known = agrees.get(bucket);
        if (known != null) {
            return known;
        }
        float[] ours = outputOf(own, tokens, dx, dy);
        float[] theirs = outputOf(Kernel.CUBLASLT, tokens, dx, dy);
        float largest = 0f;
        for (float v : ours) {
            largest = Math.max(largest, Math.abs(v));
        }
        int differ = 0;
        for (int i = 0; i < ours.length; i++) {
            boolean same = kind == GemmKind.INT8 ? Float.floatToIntBits(ours[i]) == Float.floatToIntBits(theirs[i])
                    : Math.abs(ours[i] - theirs[i]) <= 0x1p-7f * largest;
            differ += same ? 0 : 1;
        }
        agrees.put(bucket, differ == 0);
        if (differ > 0) {
            disagreements.put(bucket, differ + " of " + ours.length + " outputs differ");
        }
        return differ == 0;
    }

    private float[] outputOf(Kernel k, int tokens, long dx, long dy) {
        runWith(k, dx, dy, tokens, MemorySegment.NULL);
        float[] y = new float[Math.multiplyExact(tokens, out)];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate((long) y.length * Float.BYTES, 16);
            gpu.api.copyToHost(host, dy);
            MemorySegment.copy(host, ValueLayout.JAVA_FLOAT, 0, y, 0, y.length);
        }
        return y;
    }

    private java.util.Optional<CublasLt.Plan> plan(int tokens) {
        return plans.computeIfAbsent(tokens, t -> gpu.cublasLt().flatMap(lt -> lt.plan(kind == GemmKind.INT8, t, out, kp)));
    }

    /** Times our kernel and cuBLASLt (each warmed up, then 5 runs between CUDA events) and returns the faster. */
    private Kernel measure(int tokens, long dx, long dy) {
        double best = Double.MAX_VALUE;
        Kernel winner = own;
        for (Kernel k : new Kernel[] {own, Kernel.CUBLASLT}) {
            for (int i = 0; i < 2; i++) {
                runWith(k, dx, dy, tokens, MemorySegment.NULL);
            }
            MemorySegment start = gpu.api.createEvent();
            MemorySegment end = gpu.api.createEvent();
            gpu.api.recordEvent(start);
            for (int i = 0; i < 5; i++) {
                runWith(k, dx, dy, tokens, MemorySegment.NULL);
            }
            gpu.api.recordEvent(end);
            double ms = gpu.api.elapsedMillis(start, end);
            gpu.api.destroyEvent(start);
            gpu.api.destroyEvent(end);
            if (ms < best) {
                best = ms;
                winner = k;
            }
        }
        return winner;
    }

    private String hopperKernel() {
        String op = kind == GemmKind.INT8 ? "s8" : promoted ? "e4m3p" : "e4m3";
        return "hopper_" + op + "_rescale_n" + tileN;
    }

    @Override
    public synchronized void forward(MemorySegment x, MemorySegment y, int tokens) {
        gpu.api.setCurrent(gpu.context);
        ensureWork(tokens);
        gpu.api.copyToDevice(work[0], x.asSlice(0, (long) tokens * in * Float.BYTES));
        run(work[0], work[4], tokens);
        gpu.api.copyToHost(y.asSlice(0, (long) tokens * out * Float.BYTES), work[4]); // synchronous: waits for the kernels
    }

    /** The activation codes of the last forward, [tokens][kp], for the GPU check. */
    synchronized byte[] downloadCodes(int tokens) {
        byte[] codes = new byte[Math.multiplyExact(tokens, kp)];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(codes.length, 16);
            gpu.api.copyToHost(host, work[1]);
            MemorySegment.copy(host, ValueLayout.JAVA_BYTE, 0, codes, 0, codes.length);
        }
        return codes;
    }

    /** Device input and output buffers of this layer, for timing the kernels alone: [x, y]. */
    synchronized long[] deviceBuffers(int tokens) {
        gpu.api.setCurrent(gpu.context);
        ensureWork(tokens);
        return new long[] {work[0], work[4]};
    }

    /** Quantize + GEMM (+ rescale) on device buffers, asynchronously on the default stream. */
    void run(long dx, long dy, int tokens) {
        run(dx, dy, tokens, MemorySegment.NULL);
    }

    /** The same on a stream, which may be capturing a CUDA graph (AUTO measures outside any capture first). */
    synchronized void run(long dx, long dy, int tokens, MemorySegment stream) {
        runWith(kernelFor(tokens, dx, dy, stream), dx, dy, tokens, stream);
    }

    private void runWith(Kernel k, long dx, long dy, int tokens, MemorySegment stream) {
        long dq = work[1], dsx = work[2], dacc = work[3];
        boolean int8 = kind == GemmKind.INT8;
        if (Float.isNaN(staticScale)) {
            Object[] args = int8 ? new Object[] {dx, dq, dsx, tokens, in, kp, qmax} : new Object[] {dx, dq, dsx, tokens, in, kp};
            gpu.api.launchOn(stream, gpu.function(kind.ptx, kind.quantizePerToken), tokens, 1, 1, quantizeThreads(in), 0, args);
        } else {
            Object[] args = int8 ? new Object[] {dx, dq, staticScale, tokens, in, kp, qmax}
                    : new Object[] {dx, dq, staticScale, tokens, in, kp};
            gpu.api.launchOn(stream, gpu.function(kind.ptx, kind.quantizeStatic), blocks((long) tokens * kp), 1, 1, 256, 0, args);
        }
        switch (k) {
            case WGMMA -> {
                if (mappedTokens != tokens) { // the activation map names the row count
                    gpu.api.encodeTensorMap(mapA, CudaApi.TENSOR_MAP_UINT8, dq, tokens, kp, HOPPER_BM);
                    mappedTokens = tokens;
                }
                int stages = tileN == 256 ? 4 : 6;
                int shared = hopperSharedBytes(tileN, stages);
                long tiles = (long) ((tokens + HOPPER_BM - 1) / HOPPER_BM) * ((out + tileN - 1) / tileN);
                int grid = (int) Math.min(tiles, gpu.multiprocessors);
                gpu.api.launchOn(stream, gpu.function(CudaDevice.HOPPER_CUBIN, hopperKernel(), shared), grid, 1, 1, 384, shared, mapA, mapB,
                        dy, dsx, weightScale, bias, tokens, out, kp);
                return;
            }
            case CUBLASLT -> gpu.cublasLt().orElseThrow().run(plan(tokens).orElseThrow(), weight, dq, dacc, stream);
            default -> {
                if (int8) {
                    gpu.api.launchOn(stream, gpu.function(kind.ptx, kind.gemm), (out + 127) / 128, (tokens + 127) / 128, 1, 256, 0, dq, weight,
                            dacc, tokens, out, kp);
                } else {
                    gpu.api.launchOn(stream, gpu.function(kind.ptx, kind.gemm), (out + 63) / 64, (tokens + 63) / 64, 1, 128, 0, dq, weight,
                            dacc, tokens, out, kp);
                }
            }
        }
        long n = (long) tokens * out;
        gpu.api.launchOn(stream, gpu.function(kind.ptx, kind.rescale), blocks(n), 1, 1, 256, 0, dacc, dsx, weightScale, bias, dy, tokens,
                out, bias == 0L ? 0 : 1);
    }

    /**
     * Shared memory of a hopper_gemm.cu kernel: the stages' tiles, their barriers, the epilogue's
     * column vectors (2 warpgroups x 2 x BN floats) and 1 KiB of alignment slack.
     */
    static int hopperSharedBytes(int tileN, int stages) {
        return stages * (HOPPER_BM + tileN) * 128 + 16 * stages + 16 * tileN + 1024;
    }

    /**
     * Threads per row of the per-token quantize kernels: about 8 float4 each (fastest on an H200:
     * enough rows in flight), at most 12 (the kernels keep a row in registers up to that), 32 to 768
     * (the kernels use 70 registers a thread; longer rows take the two-pass path).
     */
    static int quantizeThreads(int k) {
        int threads = ((k + 31) / 32 + 31) / 32 * 32;
        if (threads > 256) {
            threads = Math.max(256, ((k + 47) / 48 + 31) / 32 * 32);
        }
        return Math.max(32, Math.min(768, threads));
    }

    private static int blocks(long n) {
        return Math.toIntExact((n + 255) / 256);
    }

    private void ensureWork(int tokens) {
        if (tokens <= workTokens) {
            return;
        }
        freeWork();
        long t = tokens;
        long acc = kernel == Kernel.WGMMA ? 4 : t * out * 4; // the fused epilogue needs no accumulator buffer
        work = new long[] {gpu.api.malloc(t * in * 4), gpu.api.malloc(t * kp), gpu.api.malloc(t * 4), gpu.api.malloc(acc),
            gpu.api.malloc(t * out * 4)};
        workTokens = tokens;
        mappedTokens = -1;
        if (!Float.isNaN(staticScale)) { // one rescale path for both cases: sx holds the calibrated scale
            try (Arena a = Arena.ofConfined()) {
                MemorySegment s = a.allocate(t * Float.BYTES, 16);
                for (int i = 0; i < tokens; i++) {
                    s.setAtIndex(ValueLayout.JAVA_FLOAT, i, staticScale);
                }
                gpu.api.copyToDevice(work[2], s);
            }
        }
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
            gpu.api.free(weight);
            gpu.api.free(weightScale);
            if (bias != 0L) {
                gpu.api.free(bias);
            }
        } catch (RuntimeException e) {
            // close never throws: a failing driver at shutdown leaves nothing we could free anyway
        } finally {
            maps.close();
        }
    }
}
