package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * {@code H = (2/N) Σ x xᵀ} over the N input rows a layer saw.
 *
 * <p>H is symmetric, so only its upper triangle is computed: the columns are cut into tiles of
 * {@link #tileFor} and each batch adds {@code X_iᵀ X_j} for tiles {@code i ≤ j}, one FLOAT32 matmul
 * each — at n = 4096 that is 36 of the 64 tile products, at n = 14336 105 of 196. The lower
 * triangle is mirrored once, in {@link #value}.
 *
 * <p>The running sums are FLOAT32 engine arrays, one per tile, added to in the engine: a batch's
 * products never cross to Java (copying each out and summing it in a Java loop cost a tenth of
 * the matmul time at n = 2048). FLOAT32 is half the memory of float64 (0.8 GB instead of 1.6 GB
 * at n = 14336). Each batch's product is itself a FLOAT32 sum over a few thousand rows; adding a
 * few dozen such partial sums in FLOAT32 adds a relative rounding of about
 * {@code √batches · 2⁻²⁴}, far below the matmul's own (measured in the tests against a float64
 * definition).
 */
final class Hessian implements Gptq.Source, AutoCloseable {

    /**
     * Tile width: 512 up to n = 4096, where the finer triangle saves more than the smaller
     * products lose (measured at n = 2048: 0.37–0.39 s with 512, 0.50 s with 1024, 0.48 s with
     * 256; at 4096: 1.19–1.43 s against 1.23–1.54 s), 1024 beyond, where the triangle's share is
     * much the same either way and the products stay at the BLAS's full speed.
     */
    static int tileFor(int n) {
        return n <= 4096 ? 512 : 1024;
    }

    private final int tileWidth;

    private final int n;
    private final int tiles;
    private final NDManager sums;
    /** Upper-triangle tile sums: {@code tile[i][j - i]} for tile rows i ≤ columns j; null before the first batch. */
    private final NDArray[][] tile;
    private long rows;

    /** @param parent the manager whose sub-manager holds the running sums until {@link #close()} */
    Hessian(int n, NDManager parent) {
        this.n = n;
        this.tileWidth = tileFor(n);
        this.tiles = (n + tileWidth - 1) / tileWidth;
        this.sums = parent.newSubManager();
        this.tile = new NDArray[tiles][];
        for (int i = 0; i < tiles; i++) {
            tile[i] = new NDArray[tiles - i];
        }
    }

    /** Adds a batch of input rows {@code [tokens, n]}. */
    void add(NDArray x) {
        if (x.getShape().dimension() != 2 || x.getShape().get(1) != n) {
            throw new IllegalArgumentException("expected input rows [tokens, " + n + "], found " + x.getShape());
        }
        try (NDManager batch = sums.newSubManager()) {
            // Results are made in their operand's manager: everything but the input itself is moved
            // to this batch's, so it is freed when the batch is added.
            NDArray xf = x;
            if (x.getDataType() != DataType.FLOAT32) {
                xf = x.toType(DataType.FLOAT32, false);
                xf.attach(batch);
            }
            NDArray[] cut = columnTiles(xf, batch);
            for (int i = 0; i < tiles; i++) {
                NDArray left = cut[i].transpose();
                left.attach(batch);
                for (int j = i; j < tiles; j++) {
                    NDArray p = left.matMul(cut[j]);
                    if (tile[i][j - i] == null) {
                        // Kept across batches: out of the batch's manager and of any NDScope the caller
                        // runs this batch in (a scope closes what was made inside it, whatever its manager).
                        p.attach(sums);
                        NDScope.unregister(p);
                        tile[i][j - i] = p;
                    } else {
                        tile[i][j - i].addi(p);
                        p.close();
                    }
                }
            }
        }
        rows += x.getShape().get(0);
    }

    /** Rows seen so far. */
    long rows() {
        return rows;
    }

    /** The Hessian, row-major {@code [n, n]}, a new array (the running sums stay as they are). */
    float[] value() {
        return copy(null);
    }

    @Override
    public float[] diagonal() {
        float f = scale();
        float[] d = new float[n];
        for (int i = 0; i < tiles; i++) {
            int r0 = i * tileWidth;
            int w = Math.min(n, r0 + tileWidth) - r0;
            java.nio.FloatBuffer t = EngineArrays.memory(tile[i][0]);
            for (int a = 0; a < w; a++) {
                d[r0 + a] = t.get(a * w + a) * f;
            }
        }
        return d;
    }

    /**
     * {@inheritDoc} Each tile is scaled into its place and off-diagonal tiles are mirrored into
     * the lower triangle, in 64-wide blocks so that the transposed writes stay in cache; with a
     * permutation, element (i, j) goes to (pos[i], pos[j]).
     */
    @Override
    public float[] copy(int[] perm) {
        float f = scale();
        int[] pos = new int[n];
        for (int i = 0; i < n; i++) {
            pos[perm == null ? i : perm[i]] = i;
        }
        float[] h = new float[Math.multiplyExact(n, n)];
        for (int i = 0; i < tiles; i++) {
            int r0 = i * tileWidth;
            for (int j = i; j < tiles; j++) {
                int c0 = j * tileWidth;
                java.nio.FloatBuffer t = EngineArrays.memory(tile[i][j - i]); // read in place: 0.4 GB of copies at n = 14336
                int rs = Math.min(n, r0 + tileWidth) - r0;
                int cs = Math.min(n, c0 + tileWidth) - c0;
                int b = 64;
                for (int a0 = 0; a0 < rs; a0 += b) {
                    for (int b0 = 0; b0 < cs; b0 += b) {
                        for (int a = a0; a < Math.min(rs, a0 + b); a++) {
                            long row = (long) pos[r0 + a] * n;
                            for (int c = b0; c < Math.min(cs, b0 + b); c++) {
                                float v = t.get(a * cs + c) * f;
                                h[(int) (row + pos[c0 + c])] = v;
                                h[pos[c0 + c] * n + pos[r0 + a]] = v;
                            }
                        }
                    }
                }
            }
        }
        return h;
    }

    /**
     * {@code d · H} for rows {@code d [k, n]}, from the tiles (the full H is never built): tile
     * (i, j) adds {@code d_i · T_ij} to output columns j and, below the diagonal,
     * {@code d_j · T_ijᵀ} to columns i. The result is in {@code d}'s manager.
     */
    NDArray times(NDArray d) {
        if (d.getShape().dimension() != 2 || d.getShape().get(1) != n) {
            throw new IllegalArgumentException("expected rows [k, " + n + "], found " + d.getShape());
        }
        NDManager owner = d.getManager();
        try (NDManager work = sums.newSubManager()) {
            // Results are made in their first operand's manager: the column cuts live in this
            // work manager, so every product and partial sum is freed with it.
            NDArray[] cut = columnTiles(d, work);
            NDArray[] acc = new NDArray[tiles];
            for (int i = 0; i < tiles; i++) {
                for (int j = i; j < tiles; j++) {
                    NDArray t = tile[i][j - i];
                    acc[j] = add(acc[j], cut[i].matMul(t), work);
                    if (j > i) {
                        NDArray tt = t.transpose();
                        tt.attach(work);
                        acc[i] = add(acc[i], cut[j].matMul(tt), work);
                    }
                }
            }
            NDArray out = (tiles == 1 ? acc[0] : NDArrays.concat(new NDList(acc), 1)).mul(scale());
            out.attach(owner);
            return out;
        }
    }

    /** {@code a}'s columns in tiles of {@link #tileFor}, as views in {@code into} ({@code a} itself when it is one tile). */
    private NDArray[] columnTiles(NDArray a, NDManager into) {
        NDArray[] cut = new NDArray[tiles];
        for (int i = 0; i < tiles; i++) {
            if (tiles == 1) {
                cut[i] = a;
            } else {
                cut[i] = a.get(new NDIndex(":, {}:{}", i * tileWidth, Math.min(n, (i + 1) * tileWidth)));
                cut[i].attach(into);
            }
        }
        return cut;
    }

    private static NDArray add(NDArray sum, NDArray part, NDManager work) {
        part.attach(work);
        return sum == null ? part : sum.addi(part);
    }

    private float scale() {
        if (rows == 0) {
            throw new IllegalStateException("no input rows were captured");
        }
        return (float) (2.0 / rows);
    }

    /** Frees the running sums. */
    @Override
    public void close() {
        sums.close();
    }
}
