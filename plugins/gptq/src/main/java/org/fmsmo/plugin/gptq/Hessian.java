package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * {@code H = (2/N) Σ x xᵀ} over the N input rows a layer saw.
 *
 * <p>H is symmetric, so only its upper triangle is computed: the columns are cut into tiles of
 * {@value #TILE} and each batch adds {@code X_iᵀ X_j} for tiles {@code i ≤ j}, one FLOAT32 matmul
 * each — at n = 4096 that is 10 of the 16 tile products, at n = 14336 105 of 196. The lower
 * triangle is mirrored once, in {@link #value}.
 *
 * <p>The running sum is FLOAT32 (half the memory of float64: 0.8 GB instead of 1.6 GB at
 * n = 14336). Each batch's product is itself a FLOAT32 sum over a few thousand rows; adding a few
 * dozen such partial sums in FLOAT32 adds a relative rounding of about {@code √batches · 2⁻²⁴},
 * far below the matmul's own (measured in the tests against a float64 definition).
 */
final class Hessian {

    /** Tile width: large enough that each product runs at the BLAS's full speed. */
    static final int TILE = 1024;

    private final int n;
    private final float[] sum;
    private long rows;

    Hessian(int n) {
        this.n = n;
        this.sum = new float[Math.multiplyExact(n, n)];
    }

    /** Adds a batch of input rows {@code [tokens, n]}. */
    void add(NDArray x) {
        if (x.getShape().dimension() != 2 || x.getShape().get(1) != n) {
            throw new IllegalArgumentException("expected input rows [tokens, " + n + "], found " + x.getShape());
        }
        NDArray xf = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        int tiles = (n + TILE - 1) / TILE;
        for (int i = 0; i < tiles; i++) {
            int r0 = i * TILE;
            int r1 = Math.min(n, r0 + TILE);
            try (NDArray xi = tiles == 1 ? null : xf.get(new NDIndex(":, {}:{}", r0, r1))) {
                NDArray left = tiles == 1 ? xf : xi;
                for (int j = i; j < tiles; j++) {
                    int c0 = j * TILE;
                    int c1 = Math.min(n, c0 + TILE);
                    try (NDArray xj = tiles == 1 ? null : xf.get(new NDIndex(":, {}:{}", c0, c1));
                         NDArray p = left.transpose().matMul(tiles == 1 ? xf : xj)) {
                        accumulate(p.toFloatArray(), r0, r1, c0, c1);
                    }
                }
            }
        }
        if (xf != x) {
            xf.close();
        }
        rows += x.getShape().get(0);
    }

    private void accumulate(float[] p, int r0, int r1, int c0, int c1) {
        int w = c1 - c0;
        for (int r = r0; r < r1; r++) {
            int src = (r - r0) * w;
            int dst = r * n + c0;
            for (int c = 0; c < w; c++) {
                sum[dst + c] += p[src + c];
            }
        }
    }

    /** Rows seen so far. */
    long rows() {
        return rows;
    }

    /** The Hessian, row-major {@code [n, n]}, a new array (the running sum stays as it is). */
    float[] value() {
        if (rows == 0) {
            throw new IllegalStateException("no input rows were captured");
        }
        float f = (float) (2.0 / rows);
        float[] h = new float[sum.length];
        // Upper triangle (and the diagonal tiles' both halves) scaled; the lower triangle of the
        // off-diagonal tiles was never accumulated and is mirrored here, tile by tile so that the
        // transposed reads stay in cache.
        int b = 64;
        for (int i0 = 0; i0 < n; i0 += b) {
            for (int j0 = i0; j0 < n; j0 += b) {
                int i1 = Math.min(n, i0 + b);
                int j1 = Math.min(n, j0 + b);
                for (int i = i0; i < i1; i++) {
                    for (int j = Math.max(j0, i); j < j1; j++) {
                        float v = sum[i * n + j] * f;
                        h[i * n + j] = v;
                        h[j * n + i] = v;
                    }
                }
            }
        }
        return h;
    }
}
