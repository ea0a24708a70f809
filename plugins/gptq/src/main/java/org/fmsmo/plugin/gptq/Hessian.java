package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * {@code H = (2/N) Σ x xᵀ} over the N input rows a layer saw. Each batch's {@code XᵀX} is one
 * FLOAT32 matmul (a few thousand rows, so its rounding stays small); the running sum is kept in
 * float64, which QUANTIZERS.md advises, so that many batches do not lose the small ones.
 */
final class Hessian {

    private final int n;
    private final double[] sum;
    private long rows;

    Hessian(int n) {
        this.n = n;
        this.sum = new double[n * n];
    }

    /** Adds a batch of input rows {@code [tokens, n]}. */
    void add(NDArray x) {
        if (x.getShape().dimension() != 2 || x.getShape().get(1) != n) {
            throw new IllegalArgumentException("expected input rows [tokens, " + n + "], found " + x.getShape());
        }
        NDArray xf = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        try (NDArray xtx = xf.transpose().matMul(xf)) {
            float[] p = xtx.toFloatArray();
            for (int i = 0; i < p.length; i++) {
                sum[i] += p[i];
            }
        }
        rows += x.getShape().get(0);
    }

    /** Rows seen so far. */
    long rows() {
        return rows;
    }

    /** The Hessian, row-major {@code [n, n]}. */
    double[] value() {
        if (rows == 0) {
            throw new IllegalStateException("no input rows were captured");
        }
        double[] h = new double[sum.length];
        double f = 2.0 / rows;
        for (int i = 0; i < h.length; i++) {
            h[i] = sum[i] * f;
        }
        return h;
    }
}
