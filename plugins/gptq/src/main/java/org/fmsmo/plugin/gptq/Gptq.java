package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * GPTQ on one weight matrix (QUANTIZERS.md; Frantar et al. 2022): columns are quantized one at
 * a time in blocks, and each column's rounding error, scaled by the inverse Hessian's Cholesky
 * factor, is pushed onto the columns not yet quantized — inside the block at once, onto the rest
 * of the matrix lazily once per block (one matmul).
 *
 * <p>The weight is held transposed ({@code [in][out]}) so that a column of W is a contiguous
 * row: the per-column updates are plain vector loops.
 */
final class Gptq {

    /** What the algorithm needs besides the weight and the Hessian. */
    record Options(int bits, boolean symmetric, int groupSize, double dampPercent, boolean descAct, boolean staticGroups,
                   int blockSize, boolean halfScales) {
        Options {
            if (dampPercent <= 0 || dampPercent >= 1) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "damp_percent must be in (0, 1), found " + dampPercent);
            }
        }
    }

    /**
     * The frozen layer.
     *
     * @param codes   {@code [out, in]} row-major, in the original column order
     * @param scale   {@code [out, groups]} row-major
     * @param zero    {@code [out, groups]}, null when symmetric
     * @param groupIndex the group of each input column; null when column j is in group j / groupSize
     * @param dequantized {@code (q − zp)·s}, {@code [out, in]}
     * @param damp    the dampening fraction that let the factorisation succeed
     */
    record Result(int[] codes, float[] scale, int[] zero, int[] groupIndex, int groups, float[] dequantized, double damp) {
    }

    private Gptq() {
    }

    /**
     * @param weight {@code [out, in]} row-major; not modified
     * @param h      {@code (2/N) Σ x xᵀ}, {@code [in, in]}; not modified
     */
    static Result quantize(float[] weight, int out, int in, double[] h, Options o, NDManager m) {
        int group = o.groupSize() > 0 ? o.groupSize() : in;
        int groups = (in + group - 1) / group;
        double[] hw = h.clone();
        float[] wt = transpose(weight, out, in);
        // Dead inputs never seen non-zero: no information, so H_ii = 1 and the column is zero.
        for (int i = 0; i < in; i++) {
            if (hw[i * in + i] == 0) {
                hw[i * in + i] = 1;
                Arrays.fill(wt, i * out, (i + 1) * out, 0f);
            }
        }
        IntGrid[] staticGrids = null;
        if (o.staticGroups() && o.groupSize() > 0) {
            staticGrids = new IntGrid[groups];
            for (int g = 0; g < groups; g++) {
                staticGrids[g] = new IntGrid(o.bits(), o.symmetric(), out, o.halfScales());
                staticGrids[g].fit(wt, out, g * group, Math.min(in, (g + 1) * group));
            }
        }
        int[] perm = IntStream.range(0, in).toArray();
        if (o.descAct()) {
            double[] diag = new double[in];
            for (int i = 0; i < in; i++) {
                diag[i] = hw[i * in + i];
            }
            perm = IntStream.range(0, in).boxed().sorted(Comparator.comparingDouble((Integer i) -> -diag[i])).mapToInt(Integer::intValue).toArray();
            hw = permute(hw, in, perm);
            wt = permuteRows(wt, out, perm);
        }
        double damp = o.dampPercent();
        float[] u = null;
        while (u == null) {
            try {
                u = Cholesky.inverseUpperFactor(damped(hw, in, damp), in, m);
            } catch (Cholesky.NotPositiveDefinite e) {
                if (damp >= 1) {
                    throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "GPTQ: the Hessian is not positive definite even with dampening "
                            + damp + " (" + e.getMessage() + "); the calibration inputs may hold NaN or Inf");
                }
                damp = Math.min(1, damp * 10); // retry with stronger dampening
            }
        }
        int[] codes = new int[out * in];
        float[] scale = new float[out * groups];
        int[] zero = o.symmetric() ? null : new int[out * groups];
        int[] groupIndex = new int[in];
        float[] deq = new float[out * in];
        IntGrid grid = new IntGrid(o.bits(), o.symmetric(), out, o.halfScales());
        if (o.groupSize() <= 0) {
            grid.fit(wt, out, 0, in);
        }
        float[] err = new float[o.blockSize() * out];
        for (int b = 0; b < in; b += o.blockSize()) {
            int e = Math.min(in, b + o.blockSize());
            for (int i = b; i < e; i++) {
                int column = perm[i];
                int g;
                IntGrid current;
                if (staticGrids != null) {
                    g = column / group;
                    current = staticGrids[g];
                } else {
                    g = i / group;
                    if (o.groupSize() > 0 && i % group == 0) {
                        grid.fit(wt, out, i, Math.min(in, i + group)); // from the already-updated weights
                    }
                    current = grid;
                }
                groupIndex[column] = g;
                if (staticGrids == null && (o.groupSize() <= 0 || i % group == 0)) {
                    store(current, g, groups, scale, zero);
                }
                float d = u[i * in + i];
                int row = i * out;
                int errRow = (i - b) * out;
                for (int r = 0; r < out; r++) {
                    float w = wt[row + r];
                    int q = current.code(w, r);
                    float v = current.value(q, r);
                    codes[r * in + column] = q;
                    deq[r * in + column] = v;
                    err[errRow + r] = (w - v) / d;
                }
                for (int j = i + 1; j < e; j++) {
                    float f = u[i * in + j];
                    int target = j * out;
                    for (int r = 0; r < out; r++) {
                        wt[target + r] -= err[errRow + r] * f;
                    }
                }
            }
            if (e < in) {
                lazyUpdate(wt, out, in, u, err, b, e, m);
            }
        }
        if (staticGrids != null) {
            for (int g = 0; g < groups; g++) {
                store(staticGrids[g], g, groups, scale, zero);
            }
        }
        boolean contiguous = IntStream.range(0, in).allMatch(j -> groupIndex[j] == j / group);
        return new Result(codes, scale, zero, contiguous ? null : groupIndex, groups, deq, damp);
    }

    /** {@code W[:, e:] −= E · U[b:e, e:]}, i.e. in the transposed layout {@code Wt[e:] −= U[b:e, e:]ᵀ · Et}. */
    private static void lazyUpdate(float[] wt, int out, int in, float[] u, float[] err, int b, int e, NDManager m) {
        int rest = in - e;
        int kb = e - b;
        try (NDManager step = m.newSubManager()) {
            NDArray slab = step.create(Cholesky.block(u, in, b, e, kb, rest), new Shape(kb, rest));
            NDArray et = step.create(Arrays.copyOf(err, kb * out), new Shape(kb, out));
            float[] delta = slab.transpose().matMul(et).toFloatArray();
            int base = e * out;
            for (int k = 0; k < delta.length; k++) {
                wt[base + k] -= delta[k];
            }
        }
    }

    private static void store(IntGrid grid, int g, int groups, float[] scale, int[] zero) {
        for (int r = 0; r < grid.scale.length; r++) {
            scale[r * groups + g] = grid.scale[r];
            if (zero != null) {
                zero[r * groups + g] = grid.zero[r];
            }
        }
    }

    /** {@code H + λ·mean(diag H)·I}. */
    private static double[] damped(double[] h, int n, double lambda) {
        double mean = 0;
        for (int i = 0; i < n; i++) {
            mean += h[i * n + i];
        }
        mean /= n;
        double[] d = h.clone();
        for (int i = 0; i < n; i++) {
            d[i * n + i] += lambda * mean;
        }
        return d;
    }

    private static double[] permute(double[] h, int n, int[] perm) {
        double[] p = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                p[i * n + j] = h[perm[i] * n + perm[j]];
            }
        }
        return p;
    }

    private static float[] permuteRows(float[] wt, int cols, int[] perm) {
        float[] p = new float[wt.length];
        for (int i = 0; i < perm.length; i++) {
            System.arraycopy(wt, perm[i] * cols, p, i * cols, cols);
        }
        return p;
    }

    private static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }
}
