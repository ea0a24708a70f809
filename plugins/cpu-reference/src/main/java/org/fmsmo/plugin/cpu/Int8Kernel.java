package org.fmsmo.plugin.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The inner loop of the int8 GEMM: a panel of {@value #ROWS} tokens × {@link #cols()} outputs,
 * summed over a range of K as an outer product, in exact int32, from activation codes (held as
 * ints, |x| ≤ 128) and weights packed panel by panel ({@link Int8Gemm#pack}: for each group of
 * {@code cols()} output rows, K rows of {@code cols()} bytes). Each step of K multiplies one
 * weight row of the panel by each token's code, so nothing has to be summed across vector lanes
 * at the end (at K = 128 that reduction cost a quarter of the time of the dot-product form).
 * |x·w| ≤ 2^14, so up to 2^17 terms cannot overflow.
 *
 * <p>The Vector API implementation is used when the JVM has {@code jdk.incubator.vector} (the
 * launcher adds it) and this plugin's loader can link it; otherwise, or when
 * {@code -Dfmsmo.cpu.vector=false}, plain loops.
 */
interface Int8Kernel {

    /** Tokens per panel: 6 rows × 2 vectors of accumulators leave registers for the weights and the broadcast. */
    int ROWS = 6;

    /** Outputs per panel (the packing width of the weights): two int vectors. */
    int cols();

    /**
     * Overwrites {@code acc[a0 + i·lda + j]} ({@code i < ROWS}, {@code j < cols()}) with
     * {@code Σ_{k ∈ [from, to)} x[x0 + i·ldx + k] · wp[p0 + k·cols() + j]}.
     */
    void panel(int[] x, int x0, int ldx, byte[] wp, int p0, int from, int to, int[] acc, int a0, int lda);

    /** {@code max |x[i]|} over {@code n} floats from float index {@code from} (0 for none). */
    float absMax(MemorySegment x, long from, int n);

    /**
     * Input codes {@code q[q0 + i] = clamp(rint(x[from + i] / s) + zp, lo, hi)}: float division as
     * the simulated quantizers do it, then round half to even.
     */
    void quantize(MemorySegment x, long from, int n, float s, int zp, int lo, int hi, int[] q, int q0);

    /** What this JVM runs: the vector kernel when it links and agrees with the loops on a probe, else the loops. */
    Int8Kernel BEST = choose();

    /** The name of {@link #BEST}, for messages and benchmarks. */
    static String kernelName() {
        return BEST instanceof Scalar ? "scalar" : "vector";
    }

    private static Int8Kernel choose() {
        if (!Boolean.parseBoolean(System.getProperty("fmsmo.cpu.vector", "true"))
                || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return new Scalar(32);
        }
        try {
            Int8Kernel v = (Int8Kernel) Class.forName("org.fmsmo.plugin.cpu.VectorInt8Kernel", true, Int8Kernel.class.getClassLoader())
                    .getDeclaredConstructor().newInstance();
            int k = 203;
            int cols = v.cols();
            int[] x = new int[ROWS * k];
            byte[] wp = new byte[k * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = (i * 37) % 256 - 128;
            }
            for (int i = 0; i < wp.length; i++) {
                wp[i] = (byte) (127 - (i * 11) % 255);
            }
            int[] expected = new int[ROWS * cols];
            int[] actual = new int[ROWS * cols];
            new Scalar(cols).panel(x, 0, k, wp, 0, 3, k, expected, 0, cols);
            v.panel(x, 0, k, wp, 0, 3, k, actual, 0, cols);
            return java.util.Arrays.equals(expected, actual) && quantizesAlike(v, new Scalar(cols)) ? v : new Scalar(32);
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return new Scalar(32); // e.g. a module layer or OSGi framework without jdk.incubator.vector
        }
    }

    /** Whether two kernels give the same codes and maxima on a probe that has ties, the clamp and zero. */
    private static boolean quantizesAlike(Int8Kernel a, Int8Kernel b) {
        int n = 203;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (i % 7 == 0) ? (i - 100) * 0.5f : (float) Math.sin(i) * 140f; // halves tie; beyond ±127 clamps
        }
        MemorySegment seg = MemorySegment.ofArray(x);
        int[] qa = new int[n];
        int[] qb = new int[n];
        a.quantize(seg, 1, n - 1, 0.5f, 3, 0, 255, qa, 0);
        b.quantize(seg, 1, n - 1, 0.5f, 3, 0, 255, qb, 0);
        return java.util.Arrays.equals(qa, qb) && a.absMax(seg, 1, n - 1) == b.absMax(seg, 1, n - 1);
    }

    /** Plain loops, for any packing width. */
    record Scalar(int cols) implements Int8Kernel {
        @Override
        public void panel(int[] x, int x0, int ldx, byte[] wp, int p0, int from, int to, int[] acc, int a0, int lda) {
            for (int i = 0; i < ROWS; i++) {
                for (int j = 0; j < cols; j++) {
                    int sum = 0;
                    for (int k = from; k < to; k++) {
                        sum += x[x0 + i * ldx + k] * wp[p0 + k * cols + j];
                    }
                    acc[a0 + i * lda + j] = sum;
                }
            }
        }

        @Override
        public float absMax(MemorySegment x, long from, int n) {
            float amax = 0f;
            for (int i = 0; i < n; i++) {
                amax = Math.max(amax, Math.abs(x.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, from + i)));
            }
            return amax;
        }

        @Override
        public void quantize(MemorySegment x, long from, int n, float s, int zp, int lo, int hi, int[] q, int q0) {
            for (int i = 0; i < n; i++) {
                double v = Math.rint(x.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, from + i) / s) + zp;
                q[q0 + i] = (int) Math.max(lo, Math.min(hi, v));
            }
        }
    }
}
