package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * GPTQ's factor: the upper-triangular {@code U} with {@code H⁻¹ = UᵀU}, without forming H⁻¹.
 *
 * <p>If {@code J} reverses the index order and {@code JHJ = LLᵀ} (ordinary Cholesky), then
 * {@code H = VVᵀ} with the upper-triangular {@code V = JLJ}, so {@code H⁻¹ = V⁻ᵀV⁻¹} and
 * {@code U = V⁻¹ = J·L⁻¹·J}: one Cholesky factorisation and one triangular inverse.
 *
 * <p>Both are blocked (panels of {@value #BLOCK}): the small diagonal blocks are factored and
 * inverted here in double precision, and the O(n³) work — the panel solve, the trailing update
 * and the off-diagonal blocks of the inverse — is DJL matmuls in FLOAT32, so it runs on the
 * engine's BLAS (or a GPU). DJL has no Cholesky of its own. FLOAT32 is what GPTQ implementations
 * use for this step; the dampening keeps it well conditioned.
 */
final class Cholesky {

    static final int BLOCK = 128;

    /** The factorisation met a non-positive pivot: the matrix is not (numerically) positive definite. */
    static final class NotPositiveDefinite extends Exception {
        NotPositiveDefinite(int column, double pivot) {
            super("pivot " + pivot + " at column " + column);
        }
    }

    private Cholesky() {
    }

    /**
     * @param h symmetric positive definite, row-major {@code n×n}; not modified
     * @return {@code U}, row-major {@code n×n}, zero below the diagonal
     */
    static float[] inverseUpperFactor(double[] h, int n, NDManager m) throws NotPositiveDefinite {
        float[] a = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                a[i * n + j] = (float) h[(n - 1 - i) * n + (n - 1 - j)];
            }
        }
        lowerInPlace(a, n, m);
        float[] inv = invertLower(a, n, m);
        float[] u = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                u[i * n + j] = inv[(n - 1 - i) * n + (n - 1 - j)];
            }
        }
        return u;
    }

    /** Right-looking blocked Cholesky: {@code a} becomes {@code L} (lower triangle; the upper is zeroed). */
    static void lowerInPlace(float[] a, int n, NDManager m) throws NotPositiveDefinite {
        for (int k = 0; k < n; k += BLOCK) {
            int kb = Math.min(BLOCK, n - k);
            double[] l11 = factorDiagonal(a, n, k, kb);
            int rest = n - k - kb;
            if (rest == 0) {
                continue;
            }
            try (NDManager step = m.newSubManager()) {
                // L21 = A21 · L11⁻ᵀ
                NDArray a21 = step.create(block(a, n, k + kb, k, rest, kb), new Shape(rest, kb));
                NDArray l11InvT = step.create(toFloat(transpose(invertSmallLower(l11, kb), kb)), new Shape(kb, kb));
                NDArray l21 = a21.matMul(l11InvT);
                put(a, n, k + kb, k, rest, kb, l21.toFloatArray());
                // A22 −= L21 · L21ᵀ
                NDArray a22 = step.create(block(a, n, k + kb, k + kb, rest, rest), new Shape(rest, rest));
                put(a, n, k + kb, k + kb, rest, rest, a22.subi(l21.matMul(l21.transpose())).toFloatArray());
            }
        }
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(a, i * n + i + 1, i * n + n, 0f);
        }
    }

    /** Factors the diagonal block at {@code k} in double precision and writes {@code L11} back. */
    private static double[] factorDiagonal(float[] a, int n, int k, int kb) throws NotPositiveDefinite {
        double[] l = new double[kb * kb];
        for (int i = 0; i < kb; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = a[(k + i) * n + k + j];
                for (int p = 0; p < j; p++) {
                    sum -= l[i * kb + p] * l[j * kb + p];
                }
                if (i == j) {
                    if (!(sum > 0)) {
                        throw new NotPositiveDefinite(k + i, sum);
                    }
                    l[i * kb + i] = Math.sqrt(sum);
                } else {
                    l[i * kb + j] = sum / l[j * kb + j];
                }
            }
        }
        for (int i = 0; i < kb; i++) {
            for (int j = 0; j < kb; j++) {
                a[(k + i) * n + k + j] = j <= i ? (float) l[i * kb + j] : 0f;
            }
        }
        return l;
    }

    /**
     * Blocked inverse of a lower-triangular matrix: diagonal blocks {@code M_ii = L_ii⁻¹}, and
     * block row i left of the diagonal {@code M[i, :i] = −M_ii · (L[i, :i] · M[:i, :i])}.
     */
    static float[] invertLower(float[] l, int n, NDManager m) {
        float[] inv = new float[n * n];
        for (int k = 0; k < n; k += BLOCK) {
            int kb = Math.min(BLOCK, n - k);
            double[] lkk = new double[kb * kb];
            for (int i = 0; i < kb; i++) {
                for (int j = 0; j <= i; j++) {
                    lkk[i * kb + j] = l[(k + i) * n + k + j];
                }
            }
            double[] mkk = invertSmallLower(lkk, kb);
            put(inv, n, k, k, kb, kb, toFloat(mkk));
            if (k == 0) {
                continue;
            }
            try (NDManager step = m.newSubManager()) {
                NDArray lRow = step.create(block(l, n, k, 0, kb, k), new Shape(kb, k));
                NDArray mTop = step.create(block(inv, n, 0, 0, k, k), new Shape(k, k));
                NDArray mkkArr = step.create(toFloat(mkk), new Shape(kb, kb));
                put(inv, n, k, 0, kb, k, mkkArr.matMul(lRow.matMul(mTop)).negi().toFloatArray());
            }
        }
        return inv;
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

    private static double[] transpose(double[] a, int n) {
        double[] t = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                t[j * n + i] = a[i * n + j];
            }
        }
        return t;
    }

    private static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            f[i] = (float) a[i];
        }
        return f;
    }

    /** Copies the {@code rows×cols} block at ({@code r0}, {@code c0}) out of a row-major {@code n}-wide matrix. */
    static float[] block(float[] a, int n, int r0, int c0, int rows, int cols) {
        float[] out = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(a, (r0 + i) * n + c0, out, i * cols, cols);
        }
        return out;
    }

    /** Writes a {@code rows×cols} block into a row-major {@code n}-wide matrix at ({@code r0}, {@code c0}). */
    static void put(float[] a, int n, int r0, int c0, int rows, int cols, float[] values) {
        for (int i = 0; i < rows; i++) {
            System.arraycopy(values, i * cols, a, (r0 + i) * n + c0, cols);
        }
    }
}
