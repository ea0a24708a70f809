package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

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
 * inverted here in double precision. Everything above is four large FLOAT32 matmuls per level on the engine's BLAS,
 * about {@code (4/3)n³} flops in all — what LAPACK's potrf + potri + potrf that a PyTorch GPTQ
 * runs cost too, but as a handful of big GEMMs and O(n² log n) copying instead of a triangular
 * sweep. FLOAT32 is what GPTQ implementations use for this step; the dampening keeps H well
 * conditioned, and a pivot that is not positive anywhere raises {@link NotPositiveDefinite}.
 */
final class Cholesky {

    /** Largest block factored directly (in double). */
    static final int BASE = 128;

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
     *          (zero below the diagonal), so that the factor needs no second n² array
     */
    static void inverseUpperFactorInPlace(float[] h, int n, NDManager m) throws NotPositiveDefinite {
        factor(h, n, 0, n, m);
    }

    /**
     * Replaces the diagonal block {@code [off, off+size)} of {@code a} (row stride {@code ld}) by
     * its U. Each step overwrites only what it no longer reads: H22 by U22, then H11 by S and S by
     * U11, H12 by U12, and the lower-left block by zeros.
     */
    private static void factor(float[] a, int ld, int off, int size, NDManager m) throws NotPositiveDefinite {
        if (size <= BASE) {
            put(a, ld, off, off, size, size, base(a, ld, off, size));
            return;
        }
        int k = (size / 2 + BASE - 1) / BASE * BASE; // keeps the leaves aligned to BASE
        int s2 = size - k;
        factor(a, ld, off + k, s2, m);
        try (NDManager step = m.newSubManager()) {
            NDArray u22 = EngineArrays.block(step, a, ld, off + k, off + k, s2, s2);
            NDArray h12 = EngineArrays.block(step, a, ld, off, off + k, k, s2);
            NDArray v12 = h12.matMul(u22.transpose());
            h12.close();
            NDArray h11 = EngineArrays.block(step, a, ld, off, off, k, k);
            try (NDArray vvt = v12.matMul(v12.transpose())) {
                EngineArrays.put(h11.subi(vvt), a, ld, off, off);
            }
            h11.close();
            factor(a, ld, off, k, step);
            NDArray u11 = EngineArrays.block(step, a, ld, off, off, k, k);
            try (NDArray v12u22 = v12.matMul(u22)) {
                v12.close();
                u22.close();
                EngineArrays.put(u11.matMul(v12u22).negi(), a, ld, off, off + k);
            }
        }
        for (int i = off + k; i < off + size; i++) {
            java.util.Arrays.fill(a, i * ld + off, i * ld + off + k, 0f);
        }
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

    /** Inverse of a small lower-triangular matrix by forward substitution, in double. */
    static double[] invertSmallLower(double[] l, int n) {
        double[] inv = new double[n * n];
        for (int j = 0; j < n; j++) {
            inv[j * n + j] = 1 / l[j * n + j];
            for (int i = j + 1; i < n; i++) {
                double sum = 0;
                for (int p = j; p < i; p++) {
                    sum += l[i * n + p] * inv[p * n + j];
                }
                inv[i * n + j] = -sum / l[i * n + i];
            }
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
