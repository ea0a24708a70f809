package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.fmsmo.plugin.gptq.GemmKernel.Operand;
import org.fmsmo.plugin.gptq.GemmKernel.Zeros;

/**
 * GPTQ's factor: the upper-triangular {@code U} with {@code H⁻¹ = UᵀU}, without forming H⁻¹.
 *
 * <p>Write {@code H = VVᵀ} with V upper-triangular (a Cholesky factorisation that starts from the
 * last index); then {@code H⁻¹ = V⁻ᵀV⁻¹} and {@code U = V⁻¹}. Split H into 2×2 blocks:
 * <pre>
 *   U22 = factor(H22)                  (H22 = V22 V22ᵀ)
 *   V12 = H12 · U22ᵀ                   (H12 = V12 V22ᵀ)
 *   U11 = factor(H11 − V12 V12ᵀ)       (H11 = V11 V11ᵀ + V12 V12ᵀ)
 *   U12 = −U11 · V12 · U22             (the off-diagonal block of [V11 V12; 0 V22]⁻¹)
 * </pre>
 * The recursion works in place and bottoms out at blocks of at most {@value #BASE}, factored and
 * inverted here in double precision. Everything above is four large FLOAT32 matmuls per level,
 * {@code (4/3)n³} flops as full products; three of the four have a triangular factor and one a
 * symmetric result. On the engine's BLAS ({@link EngineLevel}) their zero or mirrored quarters are
 * skipped once a block is wider than {@value #FULL} ({@link #upperTimes}, {@link #timesUpper},
 * {@link #subtractGram}), between {@code n³} and {@code (2/3)n³} in all; on the
 * {@link GemmKernel} ({@link #kernelLevel}) tile by tile, about {@code (2/3)n³}. A PyTorch GPTQ
 * runs potrf + potri + potrf, {@code (4/3)n³} as triangular sweeps; here it is a handful of big
 * GEMMs. FLOAT32 is what GPTQ implementations use for this step; the dampening keeps H well
 * conditioned, and a pivot that is not positive anywhere raises {@link NotPositiveDefinite}.
 */
final class Cholesky {

    /** Largest block factored directly (in double). */
    static final int BASE = 128;

    /** Largest triangular or symmetric product done as one full matmul. */
    static final int FULL = 512;

    /** The factorisation met a non-positive pivot: the matrix is not (numerically) positive definite. */
    static final class NotPositiveDefinite extends Exception {
        NotPositiveDefinite(int column, double pivot) {
            super("pivot " + pivot + " at column " + column);
        }
    }

    private Cholesky() {
    }

    /**
     * @param h symmetric positive definite, row-major {@code n×n}; overwritten with {@code U}
     *          (zero below the diagonal), so that the factor needs no second n² array. Only its
     *          upper triangle is read.
     */
    static void inverseUpperFactorInPlace(float[] h, int n, NDManager m) throws NotPositiveDefinite {
        Level level = GemmKernel.runsFor(n) ? Cholesky::kernelLevel : new EngineLevel(m);
        factor(h, n, 0, n, level);
    }

    /** The diagonal block {@code [off, off+size)} of {@code a} (row stride {@code ld}), factored into the top-left block's U. */
    @FunctionalInterface
    interface TopLeft {
        void factor() throws NotPositiveDefinite;
    }

    /**
     * The products of one level, with the diagonal block at {@code off} split at {@code k} and
     * U22 already in place: V12, then {@code H11 − V12 V12ᵀ}, the top-left factorisation, and
     * U12 over H12. They run on the engine's BLAS ({@link EngineLevel}) or, from
     * {@link GemmKernel#MIN_COLUMNS} inputs on, in place on the Java array with the
     * {@link GemmKernel} ({@link #kernelLevel}): no block crosses to the engine and back, and
     * the zero and unread triangles are skipped tile by tile.
     */
    @FunctionalInterface
    interface Level {
        void products(float[] a, int ld, int off, int k, int s2, TopLeft topLeft) throws NotPositiveDefinite;
    }

    /**
     * Replaces the diagonal block {@code [off, off+size)} of {@code a} (row stride {@code ld}) by
     * its U. Each step overwrites only what it no longer reads: H22 by U22, then H11 by S and S by
     * U11, H12 by U12, and the lower-left block by zeros.
     */
    private static void factor(float[] a, int ld, int off, int size, Level level) throws NotPositiveDefinite {
        if (size <= BASE) {
            put(a, ld, off, off, size, size, base(a, ld, off, size));
            return;
        }
        int k = (size / 2 + BASE - 1) / BASE * BASE; // keeps the leaves aligned to BASE
        int s2 = size - k;
        factor(a, ld, off + k, s2, level);
        level.products(a, ld, off, k, s2, () -> factor(a, ld, off, k, level));
        for (int i = off + k; i < off + size; i++) {
            java.util.Arrays.fill(a, i * ld + off, i * ld + off + k, 0f);
        }
    }

    /**
     * A level's products with the {@link GemmKernel}, in place. T = V12·U22 is taken before the
     * top-left factorisation (it needs only V12 and U22), so V12 is freed before the recursion
     * goes down and one {@code k × s2} temporary per level is alive (0.2 GB at the top of 14336).
     * The temporaries are native and freed at once: as Java arrays they were garbage the heap grew
     * to hold, 0.8 GB more at the peak of an 8B-shaped block.
     */
    private static void kernelLevel(float[] a, int ld, int off, int k, int s2, TopLeft topLeft) throws NotPositiveDefinite {
        GemmKernel g = GemmKernel.BEST;
        MemorySegment whole = MemorySegment.ofArray(a);
        long o11 = (long) off * ld + off;
        long o12 = o11 + k;
        long o22 = (long) (off + k) * ld + off + k;
        long bytes = (long) s2 * k * Float.BYTES;
        try (Arena forT = Arena.ofShared()) { // shared: the kernel's workers read and write it
            MemorySegment t = forT.allocate(bytes, 64); // zeroed
            try (Arena forV12 = Arena.ofShared()) {
                // V12ᵀ [s2][k] = U22 · H12ᵀ
                MemorySegment v12t = forV12.allocate(bytes, 64);
                g.multiplyAdd(s2, k, s2, 1f, Operand.indexRows(a, o22, ld), Operand.indexRows(a, o12, ld), v12t, 0, k, Zeros.UPPER_A);
                Operand v12 = Operand.depthRows(v12t, 0, k);
                // T [k][s2] = V12 · U22
                g.multiplyAdd(k, s2, s2, 1f, v12, Operand.depthRows(whole, o22, ld), t, 0, s2, Zeros.UPPER_B);
                // H11 −= V12 V12ᵀ, upper triangle
                g.multiplyAdd(k, k, s2, -1f, v12, v12, whole, o11, ld, Zeros.UPPER_C);
            }
            topLeft.factor();
            // U12 = −U11 · T, over H12
            for (int i = 0; i < k; i++) {
                java.util.Arrays.fill(a, (int) (o12 + (long) i * ld), (int) (o12 + (long) i * ld + s2), 0f);
            }
            g.multiplyAdd(k, s2, k, -1f, Operand.indexRows(a, o11, ld), Operand.depthRows(t, 0, s2), whole, o12, ld, Zeros.UPPER_A);
        }
    }

    /** A level's products as FLOAT32 matmuls on the engine's BLAS, the blocks copied in and out. */
    private record EngineLevel(NDManager m) implements Level {
        @Override
        public void products(float[] a, int ld, int off, int k, int s2, TopLeft topLeft) throws NotPositiveDefinite {
            try (NDManager step = m.newSubManager()) {
                NDArray u22 = EngineArrays.block(step, a, ld, off + k, off + k, s2, s2);
                NDArray v12t; // V12ᵀ = U22 · H12ᵀ, in step
                try (NDManager t = step.newSubManager()) {
                    NDArray h12 = EngineArrays.block(t, a, ld, off, off + k, k, s2);
                    v12t = upperTimes(u22, view(h12.transpose(), t));
                }
                NDArray v12 = view(v12t.transpose(), step);
                subtractGram(v12, a, ld, off, step);
                topLeft.factor();
                NDArray v12u22 = timesUpper(v12, u22);
                v12t.close();
                u22.close();
                try (NDManager t = step.newSubManager()) {
                    NDArray u11 = EngineArrays.block(t, a, ld, off, off, k, k);
                    NDArray u12 = upperTimes(u11, v12u22).negi();
                    EngineArrays.put(u12, a, ld, off, off + k);
                }
            }
        }
    }

    /**
     * {@code U·B} for an upper-triangular {@code U}, in U's manager: the zero lower-left quarter is
     * skipped, so a product costs about half a full matmul once U is a few times {@link #FULL}
     * wide (three of the four products per level have a triangular factor; at n = 14336 the
     * factor takes 25% less time). The quarters are added into the result in place, so the
     * transient memory is half the result's size beyond it, not a second result.
     */
    static NDArray upperTimes(NDArray u, NDArray b) {
        NDArray c = u.getManager().zeros(new Shape(u.getShape().get(0), b.getShape().get(1)), DataType.FLOAT32);
        addUpperTimes(u, b, c);
        return c;
    }

    /** {@code c += U·B}, U upper-triangular; {@code c} may be a view. */
    private static void addUpperTimes(NDArray u, NDArray b, NDArray c) {
        long k = u.getShape().get(0);
        try (NDManager t = u.getManager().newSubManager()) {
            if (k <= FULL) {
                c.addi(view(u.matMul(b), t));
                return;
            }
            long k1 = k / 2;
            NDArray b1 = view(b.get(new NDIndex("0:{}", k1)), t);
            NDArray b2 = view(b.get(new NDIndex("{}:", k1)), t);
            NDArray top = view(c.get(new NDIndex("0:{}", k1)), t);
            addUpperTimes(view(u.get(new NDIndex(":{}, :{}", k1, k1)), t), b1, top);
            top.addi(view(view(u.get(new NDIndex(":{}, {}:", k1, k1)), t).matMul(b2), t));
            addUpperTimes(view(u.get(new NDIndex("{}:, {}:", k1, k1)), t), b2, view(c.get(new NDIndex("{}:", k1)), t));
        }
    }

    /** {@code A·U} for an upper-triangular {@code U}, in A's manager, as {@link #upperTimes}. */
    static NDArray timesUpper(NDArray a, NDArray u) {
        NDArray c = a.getManager().zeros(new Shape(a.getShape().get(0), u.getShape().get(1)), DataType.FLOAT32);
        addTimesUpper(a, u, c);
        return c;
    }

    /** {@code c += A·U}, U upper-triangular; {@code c} may be a view. */
    private static void addTimesUpper(NDArray a, NDArray u, NDArray c) {
        long k = u.getShape().get(0);
        try (NDManager t = a.getManager().newSubManager()) {
            if (k <= FULL) {
                c.addi(view(a.matMul(u), t));
                return;
            }
            long k1 = k / 2;
            NDArray a1 = view(a.get(new NDIndex(":, 0:{}", k1)), t);
            NDArray a2 = view(a.get(new NDIndex(":, {}:", k1)), t);
            NDArray right = view(c.get(new NDIndex(":, {}:", k1)), t);
            addTimesUpper(a1, view(u.get(new NDIndex(":{}, :{}", k1, k1)), t), view(c.get(new NDIndex(":, 0:{}", k1)), t));
            right.addi(view(a1.matMul(view(u.get(new NDIndex(":{}, {}:", k1, k1)), t)), t));
            addTimesUpper(a2, view(u.get(new NDIndex("{}:, {}:", k1, k1)), t), right);
        }
    }

    /**
     * {@code A −= V·Vᵀ} on the diagonal block at {@code off} of the row-major {@code a}, upper
     * triangle only (in blocks): the factorisation never reads below the diagonal, so the mirrored
     * quarter of the product is not computed.
     */
    private static void subtractGram(NDArray v, float[] a, int ld, int off, NDManager m) {
        int k = Math.toIntExact(v.getShape().get(0));
        try (NDManager t = m.newSubManager()) {
            if (k <= FULL) {
                subtract(v.matMul(view(v.transpose(), t)), a, ld, off, off, t);
                return;
            }
            int k1 = k / 2;
            NDArray v1 = view(v.get(new NDIndex("0:{}", k1)), t);
            NDArray v2 = view(v.get(new NDIndex("{}:", k1)), t);
            subtractGram(v1, a, ld, off, t);
            subtract(v1.matMul(view(v2.transpose(), t)), a, ld, off, off + k1, t);
            subtractGram(v2, a, ld, off + k1, t);
        }
    }

    /** The block of {@code a} at ({@code r0}, {@code c0}) the size of {@code p}, minus {@code p}. */
    private static void subtract(NDArray p, float[] a, int ld, int r0, int c0, NDManager m) {
        try (NDArray block = EngineArrays.block(m, a, ld, r0, c0, Math.toIntExact(p.getShape().get(0)), Math.toIntExact(p.getShape().get(1)))) {
            EngineArrays.put(block.subi(p), a, ld, r0, c0);
        }
        p.close();
    }

    /** {@code v} moved to {@code m}, so that it is closed with it (a view made in its base's manager would live as long as that). */
    private static NDArray view(NDArray v, NDManager m) {
        v.attach(m);
        return v;
    }

    /**
     * The leaf: with J the index reversal, {@code JAJ = LLᵀ} (ordinary Cholesky) gives
     * {@code V = JLJ}, so {@code U = V⁻¹ = J·L⁻¹·J}.
     */
    private static float[] base(float[] a, int ld, int off, int size) throws NotPositiveDefinite {
        double[] r = new double[size * size];
        for (int i = 0; i < size; i++) {
            for (int j = 0; j <= i; j++) {
                r[i * size + j] = a[(off + size - 1 - i) * ld + off + size - 1 - j];
            }
        }
        double[] l = lower(r, size, off);
        double[] inv = invertSmallLower(l, size);
        float[] u = new float[size * size];
        for (int i = 0; i < size; i++) {
            for (int j = i; j < size; j++) {
                u[i * size + j] = (float) inv[(size - 1 - i) * size + (size - 1 - j)];
            }
        }
        return u;
    }

    /** Cholesky of the lower triangle of {@code a} in double; {@code column0} only labels a failing pivot. */
    private static double[] lower(double[] a, int n, int column0) throws NotPositiveDefinite {
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = a[i * n + j];
                for (int p = 0; p < j; p++) {
                    sum -= l[i * n + p] * l[j * n + p];
                }
                if (i == j) {
                    if (!(sum > 0)) {
                        throw new NotPositiveDefinite(column0 + n - 1 - i, sum);
                    }
                    l[i * n + i] = Math.sqrt(sum);
                } else {
                    l[i * n + j] = sum / l[j * n + j];
                }
            }
        }
        return l;
    }

    /**
     * Inverse of a small lower-triangular matrix by forward substitution, in double, a row at a
     * time: row i of L⁻¹ is {@code −(Σ_{p<i} l_ip · row p of L⁻¹) / l_ii} off the diagonal, so every
     * access runs along a row (the column-wise form strode through the matrix).
     */
    static double[] invertSmallLower(double[] l, int n) {
        double[] inv = new double[n * n];
        for (int i = 0; i < n; i++) {
            int row = i * n;
            for (int p = 0; p < i; p++) {
                double f = l[row + p];
                int src = p * n;
                for (int j = 0; j <= p; j++) {
                    inv[row + j] += f * inv[src + j];
                }
            }
            double d = l[row + i];
            for (int j = 0; j < i; j++) {
                inv[row + j] = -inv[row + j] / d;
            }
            inv[row + i] = 1 / d;
        }
        return inv;
    }

    /** Writes a {@code rows×cols} block into a row-major {@code n}-wide matrix at ({@code r0}, {@code c0}). */
    static void put(float[] a, int n, int r0, int c0, int rows, int cols, float[] values) {
        for (int i = 0; i < rows; i++) {
            System.arraycopy(values, i * cols, a, (r0 + i) * n + c0, cols);
        }
    }
}
