package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * {@code H = (2/N) Σ x xᵀ} over the N input rows a layer saw.
 *
 * <p>H is symmetric, so only its upper triangle (in blocks) is computed: the columns are cut into
 * tiles of {@link #tileFor} and each batch adds, for every tile i, the slab {@code X_iᵀ X[:, i…]}
 * — tile i's rows of H from its diagonal block to the last column, one FLOAT32 matmul per slab.
 * At n = 2048 that is 10 of the 16 tile products, at n = 14336 105 of 196. One matmul per slab
 * rather than one per tile keeps the products wide enough for the BLAS's full speed (measured at
 * n = 2048, 8,192 rows: 0.29 s against 0.40 s per tile, 0.45–0.52 s for the full XᵀX; at n = 4096:
 * 0.97 s against 1.11 s). Every reader takes the upper triangle only (the {@link GemmKernel} skips
 * the tiles below a slab's diagonal) and mirrors it: once in {@link #copy}, per diagonal block in {@link #times}.
 *
 * <p>The running sums are FLOAT32 engine arrays, one per slab, added to in the engine: a batch's
 * products never cross to Java (copying each out and summing it in a Java loop cost a tenth of
 * the matmul time at n = 2048). FLOAT32 is half the memory of float64 (0.8 GB instead of 1.6 GB
 * at n = 14336). Each batch's product is itself a FLOAT32 sum over a few thousand rows; adding a
 * few dozen such partial sums in FLOAT32 adds a relative rounding of about
 * {@code √batches · 2⁻²⁴}, far below the matmul's own (measured in the tests against a float64
 * definition).
 */
final class Hessian implements Gptq.Source, AutoCloseable {

    /**
     * Tile width: 512 up to n = 4096 (at 2048 256 and 512 are level, 1024 is 20% slower; at 4096
     * 512 is best by a few percent), 1024 beyond, where the triangle's share is much the same
     * either way and the products stay at the BLAS's full speed (at 14336: 512, 1024 and 2048
     * within the noise, 14–15 s for 8,192 rows).
     */
    static int tileFor(int n) {
        if (GemmKernel.runsFor(n) && n <= 4096) {
            return n; // the kernel skips the lower triangle itself: one slab, packed once per batch (64 MB at 4096)
        }
        return n <= 4096 ? 512 : 1024;
    }

    private final int tileWidth;

    private final int n;
    private final int tiles;
    private final NDManager sums;
    /** {@code slab[i]}: rows {@code [i·w, i·w + w_i)} of H, columns {@code [i·w, n)}; null before the first batch. */
    private final NDArray[] slab;
    private long rows;

    /** @param parent the manager whose sub-manager holds the running sums until {@link #close()} */
    Hessian(int n, NDManager parent) {
        this.n = n;
        this.tileWidth = tileFor(n);
        this.tiles = (n + tileWidth - 1) / tileWidth;
        this.sums = parent.newSubManager();
        this.slab = new NDArray[tiles];
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
            if (GemmKernel.runsFor(n)) {
                addInPlace(xf);
                rows += x.getShape().get(0);
                return;
            }
            for (int i = 0; i < tiles; i++) {
                int r0 = i * tileWidth;
                NDArray left = columns(xf, r0, Math.min(n, r0 + tileWidth), batch).transpose();
                left.attach(batch);
                NDArray p = left.matMul(columns(xf, r0, n, batch));
                if (slab[i] == null) {
                    // Kept across batches: out of the batch's manager and of any NDScope the caller
                    // runs this batch in (a scope closes what was made inside it, whatever its manager).
                    p.attach(sums);
                    NDScope.unregister(p);
                    slab[i] = p;
                } else {
                    slab[i].addi(p);
                    p.close();
                }
            }
        }
        rows += x.getShape().get(0);
    }

    /** Adds {@code xf}'s products to the slabs with the {@link GemmKernel}, reading the input and writing the sums where the engine keeps them. */
    private void addInPlace(NDArray xf) {
        int tokens = Math.toIntExact(xf.getShape().get(0));
        java.lang.foreign.MemorySegment x = java.lang.foreign.MemorySegment.ofBuffer(EngineArrays.memory(xf));
        for (int i = 0; i < tiles; i++) {
            int r0 = i * tileWidth;
            int w = Math.min(n, r0 + tileWidth) - r0;
            if (slab[i] == null) {
                slab[i] = sums.zeros(new ai.djl.ndarray.types.Shape(w, n - r0), DataType.FLOAT32);
                NDScope.unregister(slab[i]); // kept across batches, as in add
            }
            // slab[a][c] += Σ_t X[t][r0 + a] · X[t][r0 + c]: tile i's columns of X against the columns from r0 on
            GemmKernel.Operand columns = GemmKernel.Operand.depthRows(x, r0, n);
            GemmKernel.BEST.multiplyAdd(w, n - r0, tokens, 1f, columns, columns,
                    java.lang.foreign.MemorySegment.ofBuffer(EngineArrays.memory(slab[i])), 0, n - r0, GemmKernel.Zeros.UPPER_C);
        }
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
            int ld = n - r0;
            java.nio.FloatBuffer t = EngineArrays.memory(slab[i]);
            for (int a = 0; a < w; a++) {
                d[r0 + a] = t.get(a * ld + a) * f;
            }
        }
        return d;
    }

    /** {@inheritDoc} In H's own order each slab row's upper part is one bulk copy; with a permutation this is {@link #copy}. */
    @Override
    public float[] upperTriangle(int[] perm) {
        if (perm != null) {
            return copy(perm);
        }
        float f = scale();
        float[] h = new float[Math.multiplyExact(n, n)];
        for (int i = 0; i < tiles; i++) {
            int r0 = i * tileWidth;
            int rs = Math.min(n, r0 + tileWidth) - r0;
            int ld = n - r0;
            java.nio.FloatBuffer t = EngineArrays.memory(slab[i]);
            for (int a = 0; a < rs; a++) {
                int to = (r0 + a) * n + r0 + a;
                t.get(a * ld + a, h, to, ld - a);
                for (int c = to; c < to + ld - a; c++) {
                    h[c] *= f;
                }
            }
        }
        return h;
    }

    /**
     * {@inheritDoc} Each slab is scaled into its place and mirrored into the lower triangle, in
     * 64-wide blocks so that the transposed writes stay in cache; with a permutation, element
     * (i, j) goes to (pos[i], pos[j]).
     */
    @Override
    public float[] copy(int[] perm) {
        float f = scale();
        int[] pos = new int[n];
        for (int i = 0; i < n; i++) {
            pos[perm == null ? i : perm[i]] = i;
        }
        float[] h = new float[Math.multiplyExact(n, n)];
        int b = 64;
        for (int i = 0; i < tiles; i++) {
            int r0 = i * tileWidth;
            int rs = Math.min(n, r0 + tileWidth) - r0;
            int ld = n - r0;
            java.nio.FloatBuffer t = EngineArrays.memory(slab[i]); // read in place: 0.4 GB of copies at n = 14336
            for (int a0 = 0; a0 < rs; a0 += b) {
                for (int c0 = 0; c0 < ld; c0 += b) {
                    for (int a = a0; a < Math.min(rs, a0 + b); a++) {
                        long row = (long) pos[r0 + a] * n;
                        for (int c = Math.max(c0, a); c < Math.min(ld, c0 + b); c++) { // the upper triangle: see GemmKernel
                            float v = t.get(a * ld + c) * f;
                            h[(int) (row + pos[r0 + c])] = v;
                            h[pos[r0 + c] * n + pos[r0 + a]] = v;
                        }
                    }
                }
            }
        }
        return h;
    }

    /**
     * {@code d · H} for rows {@code d [k, n]}, from the slabs (the full H is never built): slab i
     * adds {@code d_i · S_i} to output columns {@code [i·w, n)} and, below its diagonal block,
     * {@code d[:, after i] · S_i[:, after]ᵀ} to columns i. The result is in {@code d}'s manager.
     */
    NDArray times(NDArray d) {
        if (d.getShape().dimension() != 2 || d.getShape().get(1) != n) {
            throw new IllegalArgumentException("expected rows [k, " + n + "], found " + d.getShape());
        }
        NDManager owner = d.getManager();
        try (NDManager work = sums.newSubManager()) {
            // Results are made in their first operand's manager: the column cuts live in this
            // work manager, so every product and partial sum is freed with it.
            NDArray out = work.zeros(d.getShape(), DataType.FLOAT32);
            for (int i = 0; i < tiles; i++) {
                int r0 = i * tileWidth;
                int r1 = Math.min(n, r0 + tileWidth);
                NDArray di = columns(d, r0, r1, work);
                columns(out, r0, r1, work).addi(di.matMul(symmetricDiagonalBlock(i, work)));
                if (r1 < n) {
                    columns(out, r1, n, work).addi(di.matMul(columns(slab[i], r1 - r0, n - r0, work)));
                    NDArray below = columns(slab[i], r1 - r0, n - r0, work).transpose();
                    below.attach(work);
                    columns(out, r0, r1, work).addi(columns(d, r1, n, work).matMul(below));
                }
            }
            NDArray result = out.mul(scale());
            result.attach(owner);
            return result;
        }
    }

    /** Slab i's diagonal block {@code [w, w]}, mirrored from its upper triangle (the kernel may leave the lower one partly unsummed). */
    private NDArray symmetricDiagonalBlock(int i, NDManager into) {
        int r0 = i * tileWidth;
        int w = Math.min(n, r0 + tileWidth) - r0;
        int ld = n - r0;
        java.nio.FloatBuffer t = EngineArrays.memory(slab[i]);
        float[] block = new float[w * w];
        for (int a = 0; a < w; a++) {
            for (int c = a; c < w; c++) {
                float v = t.get(a * ld + c);
                block[a * w + c] = v;
                block[c * w + a] = v;
            }
        }
        return into.create(block, new ai.djl.ndarray.types.Shape(w, w));
    }

    /** Columns {@code [c0, c1)} of {@code a}, a view in {@code into} ({@code a} itself when that is all of it). */
    private static NDArray columns(NDArray a, int c0, int c1, NDManager into) {
        if (c0 == 0 && c1 == a.getShape().get(1)) {
            return a;
        }
        NDArray view = a.get(new NDIndex(":, {}:{}", c0, c1));
        view.attach(into);
        return view;
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
