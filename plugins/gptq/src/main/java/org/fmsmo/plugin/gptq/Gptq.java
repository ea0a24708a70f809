package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.MemorySegment;
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
            if (!(dampPercent > 0 && dampPercent < 1)) { // NaN too: the retry loop would never reach 1
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "damp_percent must be in (0, 1), found " + dampPercent);
            }
        }
    }

    /**
     * The frozen layer.
     *
     * @param codes   {@code [out, in]} row-major, in the original column order, one byte each
     *                (signed when symmetric, unsigned {@code 0..2^b−1} when asymmetric)
     * @param scale   {@code [out, groups]} row-major
     * @param zero    {@code [out, groups]}, null when symmetric
     * @param groupIndex the group of each input column; null when column j is in group j / groupSize
     * @param groupSize  columns per group ({@code in} for one group per row)
     * @param damp    the dampening fraction that let the factorisation succeed
     */
    record Result(byte[] codes, float[] scale, int[] zero, int[] groupIndex, int groups, int groupSize, int in, double damp) {

        /** Code {@code i} of {@link #codes} as an integer. */
        int code(int i) {
            return zero == null ? codes[i] : codes[i] & 0xFF;
        }

        /** {@code (q − zp)·s} of row {@code r}, column {@code c}: the value the column loop rounded to. */
        float value(int r, int c) {
            int g = groupIndex != null ? groupIndex[c] : c / groupSize;
            int q = code(r * in + c);
            return zero == null ? q * scale[r * groups + g] : (float) (q - zero[r * groups + g]) * scale[r * groups + g];
        }

        /** The dequantized weight, {@code [out, in]}, computed from the codes (not kept: it is as large as the weight). */
        float[] dequantized() {
            float[] d = new float[codes.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = value(i / in, i % in);
            }
            return d;
        }
    }

    private Gptq() {
    }

    /** Where the factor reads H from: its diagonal, and fresh copies to factor in place (one per attempt). */
    interface Source {
        /** {@code H_ii}. */
        float[] diagonal();

        /** A new row-major {@code [n, n]} copy of H with rows and columns in the order {@code perm}. */
        float[] copy(int[] perm);

        /**
         * As {@link #copy}, but only the upper triangle ({@code j ≥ i}) is sure to hold H: the
         * factorisation reads nothing below the diagonal, so a source may skip mirroring it.
         */
        default float[] upperTriangle(int[] perm) {
            return copy(perm);
        }

        /** H held in a Java array (tests, benchmarks). */
        static Source of(float[] h, int n) {
            return new Source() {
                @Override
                public float[] diagonal() {
                    float[] d = new float[n];
                    for (int i = 0; i < n; i++) {
                        d[i] = h[i * n + i];
                    }
                    return d;
                }

                @Override
                public float[] copy(int[] perm) {
                    return perm == null ? h.clone() : permute(h, n, perm);
                }
            };
        }
    }

    /**
     * What every layer reading one input shares: the upper Cholesky factor {@code U} of the damped
     * {@code H⁻¹} (in quantization order), that order, and the dead inputs. It depends only on H
     * and the options, so q/k/v (and gate/up) factor once.
     *
     * @param perm quantization order of the input columns (act-order: by descending {@code H_ii})
     * @param dead inputs never seen non-zero ({@code H_ii = 0}), by original column
     * @param damp the dampening fraction that let the factorisation succeed
     */
    record Factor(int n, float[] u, int[] perm, boolean[] dead, double damp) {
    }

    /**
     * Factors H once for a stage. Dead inputs get {@code H_ii = 1} (no information; their weight
     * column is zeroed), then {@code λ·mean(diag H)·I} is added; when H is still not positive
     * definite the factorisation is retried with λ ten times larger, up to 1.
     */
    static Factor factor(Source h, int n, Options o, NDManager m) {
        float[] raw = h.diagonal();
        float[] diag = new float[n];
        boolean[] dead = new boolean[n];
        double meanDiag = 0;
        for (int i = 0; i < n; i++) {
            dead[i] = raw[i] == 0;
            diag[i] = dead[i] ? 1 : raw[i];
            meanDiag += diag[i];
        }
        meanDiag /= n;
        int[] perm = o.descAct()
                ? IntStream.range(0, n).boxed().sorted(Comparator.comparingDouble((Integer i) -> -diag[i])).mapToInt(Integer::intValue).toArray()
                : null;
        double damp = o.dampPercent();
        while (true) {
            // The factor overwrites its input, so each attempt gets a fresh copy: permuted, dead
            // inputs set to 1, plus λ·mean(diag H)·I.
            float[] f = h.upperTriangle(perm);
            for (int i = 0; i < n; i++) {
                f[i * n + i] = (float) (diag[perm == null ? i : perm[i]] + damp * meanDiag);
            }
            try {
                Cholesky.inverseUpperFactorInPlace(f, n, m);
                return new Factor(n, f, perm == null ? IntStream.range(0, n).toArray() : perm, dead, damp);
            } catch (Cholesky.NotPositiveDefinite e) {
                if (damp >= 1) {
                    throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "GPTQ: the Hessian is not positive definite even with dampening "
                            + damp + " (" + e.getMessage() + "); the calibration inputs may hold NaN or Inf");
                }
                damp = Math.min(1, damp * 10); // retry with stronger dampening
            }
        }
    }

    /**
     * Factors {@code h} and quantizes one layer (tests and benchmarks; a run factors once per stage).
     *
     * @param weight {@code [out, in]} row-major; not modified
     * @param h      {@code (2/N) Σ x xᵀ}, {@code [in, in]}; not modified
     */
    static Result quantize(float[] weight, int out, int in, float[] h, Options o, NDManager m) {
        return quantize(weight, out, in, factor(Source.of(h, in), in, o, m), o, m);
    }

    /** As above, with the column loop split into {@code chunks} ranges of output rows run in parallel. */
    static Result quantize(float[] weight, int out, int in, float[] h, Options o, NDManager m, int chunks) {
        return quantizeTransposed(transpose(weight, out, in), out, in, factor(Source.of(h, in), in, o, m), o, m, chunks);
    }

    /** Quantizes one layer with a stage's factor. */
    static Result quantize(float[] weight, int out, int in, Factor f, Options o, NDManager m) {
        return quantizeTransposed(transpose(weight, out, in), out, in, f, o, m);
    }

    /**
     * Quantizes one layer given as its transpose {@code wt [in, out]} (a column of W per row),
     * which becomes the column loop's working copy: it is overwritten. The column loop runs on
     * one range of output rows per core (at least 64 rows each).
     */
    static Result quantizeTransposed(float[] wt, int out, int in, Factor f, Options o, NDManager m) {
        return quantizeTransposed(wt, out, in, f, o, m, Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), out / 64)));
    }

    private static Result quantizeTransposed(float[] wt, int out, int in, Factor f, Options o, NDManager m, int chunks) {
        if (f.n() != in) {
            throw new IllegalArgumentException("factor of " + f.n() + " inputs for a layer of " + in);
        }
        int group = o.groupSize() > 0 ? o.groupSize() : in;
        int groups = (in + group - 1) / group;
        for (int i = 0; i < in; i++) {
            if (f.dead()[i]) {
                Arrays.fill(wt, i * out, (i + 1) * out, 0f);
            }
        }
        IntGrid[] staticGrids = null;
        if (o.staticGroups() && o.groupSize() > 0) {
            staticGrids = new IntGrid[groups];
            for (int g = 0; g < groups; g++) {
                staticGrids[g] = new IntGrid(o.bits(), o.symmetric(), out, o.halfScales());
                staticGrids[g].fit(wt, out, g * group, Math.min(in, (g + 1) * group), 0, out);
            }
        }
        int[] perm = f.perm();
        if (o.descAct()) {
            wt = permuteRows(wt, out, perm);
        }
        float[] u = f.u();
        Columns c = new Columns(wt, out, in, u, perm, o, group, groups, staticGrids);
        // Output rows are independent of each other given U: each block's column loop runs on
        // row ranges in parallel; the lazy update of the remaining columns is one engine matmul.
        // Lazy updates on two levels: after each block, only the columns up to the end of its
        // super-block; after each super-block, all the columns beyond it, with one matmul over
        // the super-block's errors. The updates are the same as after every block (in another
        // order of summation), but the remaining weight crosses to the engine and back once per
        // super-block rather than once per block — that traffic, not the flops, was the cost.
        int superBlock = SUPER_BLOCKS * o.blockSize();
        for (int sb = 0; sb < in; sb += superBlock) {
            int se = Math.min(in, sb + superBlock);
            for (int b = sb; b < se; b += o.blockSize()) {
                int e = Math.min(se, b + o.blockSize());
                int block = b;
                IntStream.range(0, chunks).parallel().forEach(k -> c.block(sb0(block, superBlock), block, e, out * k / chunks, out * (k + 1) / chunks));
                if (e < se) {
                    lazyUpdate(wt, out, in, u, c.err, sb, b, e, e, se, m);
                }
            }
            if (se < in) {
                lazyUpdate(wt, out, in, u, c.err, sb, sb, se, se, in, m);
            }
        }
        if (staticGrids != null) {
            for (int g = 0; g < groups; g++) {
                store(staticGrids[g], g, groups, c.scale, c.zero, 0, out);
            }
        }
        boolean contiguous = IntStream.range(0, in).allMatch(j -> c.groupIndex[j] == j / group);
        return new Result(c.codes, c.scale, c.zero, contiguous ? null : c.groupIndex, groups, group, in, f.damp());
    }

    /** The column loop's state: the weight being updated, its codes and values so far, in the transposed {@code [in][out]} layout. */
    private static final class Columns {
        final float[] wt;
        final int out;
        final int in;
        final float[] u;
        final int[] perm;
        final Options o;
        final int group;
        final int groups;
        final IntGrid[] staticGrids;
        final IntGrid grid;
        final byte[] codes;
        final float[] scale;
        final int[] zero;
        final int[] groupIndex;
        final float[] err;

        Columns(float[] wt, int out, int in, float[] u, int[] perm, Options o, int group, int groups, IntGrid[] staticGrids) {
            this.wt = wt;
            this.out = out;
            this.in = in;
            this.u = u;
            this.perm = perm;
            this.o = o;
            this.group = group;
            this.groups = groups;
            this.staticGrids = staticGrids;
            this.grid = new IntGrid(o.bits(), o.symmetric(), out, o.halfScales());
            this.codes = new byte[out * in];
            this.scale = new float[out * groups];
            this.zero = o.symmetric() ? null : new int[out * groups];
            this.groupIndex = new int[in];
            this.err = new float[Math.min(in, SUPER_BLOCKS * o.blockSize()) * out];
        }

        /**
         * Columns {@code [b, e)} (in quantization order) for output rows {@code [r0, r1)}; their
         * scaled errors go to {@link #err} relative to the super-block start {@code sb}. Left-looking:
         * a column receives the errors of the block's earlier columns all at once, just before it is
         * quantized ({@link ColumnKernel}); a group that starts inside the block first brings its
         * columns up to date, so that its grid is fitted on the same weights as column by column.
         */
        void block(int sb, int b, int e, int r0, int r1) {
            int[] applied = new int[e - b]; // column j has the errors of columns [b, applied[j − b])
            Arrays.fill(applied, b);
            for (int i = b; i < e; i++) {
                int column = perm[i];
                int g;
                IntGrid current;
                if (staticGrids != null) {
                    g = column / group;
                    current = staticGrids[g];
                } else {
                    g = i / group;
                    if (o.groupSize() <= 0 ? i == 0 : i % group == 0) {
                        for (int j = i; j < Math.min(e, i + group); j++) {
                            applyErrors(applied, sb, b, j, i, r0, r1);
                        }
                        // from the already-updated weights; a whole-row grid is fitted once, on all columns
                        grid.fit(wt, out, o.groupSize() <= 0 ? 0 : i, o.groupSize() <= 0 ? in : Math.min(in, i + group), r0, r1);
                        store(grid, g, groups, scale, zero, r0, r1);
                    }
                    current = grid;
                }
                applyErrors(applied, sb, b, i, i, r0, r1);
                groupIndex[column] = g;
                float d = u[i * in + i];
                int row = i * out;
                int errRow = (i - sb) * out;
                for (int r = r0; r < r1; r++) {
                    float w = wt[row + r];
                    int q = current.code(w, r);
                    float v = current.value(q, r);
                    // straight into [out][in]: a block's columns share each row's cache lines, so
                    // the strided writes stay in cache (a byte transpose at the end cost more)
                    codes[r * in + column] = (byte) q;
                    err[errRow + r] = (w - v) / d;
                }
            }
        }

        /** Brings column {@code j} (rows {@code [r0, r1)}) up to the errors of columns before {@code upto}. */
        private void applyErrors(int[] applied, int sb, int b, int j, int upto, int r0, int r1) {
            int from = applied[j - b];
            if (from < upto) {
                KERNEL.applyErrors(wt, j * out + r0, err, (from - sb) * out + r0, out, u, from * in + j, in, upto - from, r1 - r0);
                applied[j - b] = upto;
            }
        }
    }

    /**
     * {@code W[:, c0:c1] −= E[b:e] · U[b:e, c0:c1]}, i.e. in the transposed layout
     * {@code Wt[c0:c1] −= U[b:e, c0:c1]ᵀ · Et[b:e]}; row {@code i} of {@code err} holds column {@code sb + i}.
     */
    private static void lazyUpdate(float[] wt, int out, int in, float[] u, float[] err, int sb, int b, int e, int c0, int c1, NDManager m) {
        int rest = c1 - c0;
        int kb = e - b;
        if (GemmKernel.runsFor(in)) {
            // in place on the Java arrays: A[k][i] = U[b + k][c0 + i], B[k][j] = Et[b − sb + k][j], C[i][j] = Wt[c0 + i][j]
            GemmKernel.BEST.multiplyAdd(rest, out, kb, -1f, GemmKernel.Operand.depthRows(u, (long) b * in + c0, in),
                    GemmKernel.Operand.depthRows(err, (long) (b - sb) * out, out), MemorySegment.ofArray(wt), (long) c0 * out, out, GemmKernel.Zeros.NONE);
            return;
        }
        try (NDManager step = m.newSubManager()) {
            NDArray slab = EngineArrays.block(step, u, in, b, c0, kb, rest);
            NDArray et = EngineArrays.floats(step, err, (b - sb) * out, new Shape(kb, out));
            java.nio.FloatBuffer delta = EngineArrays.memory(slab.transpose().matMul(et));
            // in chunks copied out in bulk: the subtraction is then a plain loop over two arrays,
            // which HotSpot vectorizes (reading the engine's memory element by element was slower)
            float[] chunk = new float[Math.min(delta.limit(), 1 << 16)];
            for (int from = 0, n = delta.limit(); from < n; from += chunk.length) {
                int len = Math.min(chunk.length, n - from);
                delta.get(from, chunk, 0, len);
                int base = c0 * out + from;
                for (int k = 0; k < len; k++) {
                    wt[base + k] -= chunk[k];
                }
            }
        }
    }

    private static void store(IntGrid grid, int g, int groups, float[] scale, int[] zero, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            scale[r * groups + g] = grid.scale[r];
            if (zero != null) {
                zero[r * groups + g] = grid.zero[r];
            }
        }
    }

    private static float[] permute(float[] h, int n, int[] perm) {
        float[] p = new float[n * n];
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

    /**
     * The column loop's working copy {@code Wᵀ [in][out]} of an engine weight {@code [out, in]}:
     * a FLOAT32 weight is read where the engine keeps it (no engine copy, no second Java copy),
     * another type is converted and transposed by the engine on its way out.
     */
    static float[] transposed(NDArray weight) {
        if (weight.getDataType() == ai.djl.ndarray.types.DataType.FLOAT32 && weight.getShape().dimension() == 2) {
            return transpose(MemorySegment.ofBuffer(EngineArrays.memory(weight)), Math.toIntExact(weight.getShape().get(0)),
                    Math.toIntExact(weight.getShape().get(1)));
        }
        try (NDArray t = weight.transpose(); NDArray f = t.toType(ai.djl.ndarray.types.DataType.FLOAT32, false)) {
            return f.toFloatArray();
        }
    }

    /** {@code [rows][cols]} to {@code [cols][rows]} (tests and benchmarks hand weights over as Java arrays). */
    static float[] transpose(float[] a, int rows, int cols) {
        return transpose(MemorySegment.ofArray(a), rows, cols);
    }

    /**
     * {@code [rows][cols]} FLOAT32 values to a new {@code [cols][rows]} array, in tiles so that both
     * sides stay in cache, bands of rows in parallel; each tile's rows are copied out in bulk.
     */
    private static float[] transpose(MemorySegment a, int rows, int cols) {
        float[] t = new float[Math.multiplyExact(rows, cols)];
        IntStream.range(0, (rows + TILE - 1) / TILE).parallel().forEach(band -> {
            int r0 = band * TILE;
            int height = Math.min(rows, r0 + TILE) - r0;
            float[] tile = new float[TILE * TILE];
            for (int c0 = 0; c0 < cols; c0 += TILE) {
                int width = Math.min(cols, c0 + TILE) - c0;
                for (int r = 0; r < height; r++) {
                    MemorySegment.copy(a, java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, ((long) (r0 + r) * cols + c0) * Float.BYTES, tile, r * TILE, width);
                }
                for (int c = 0; c < width; c++) {
                    for (int r = 0; r < height; r++) {
                        t[(c0 + c) * rows + r0 + r] = tile[r * TILE + c];
                    }
                }
            }
        });
        return t;
    }

    private static final int TILE = 64;

    private static final ColumnKernel KERNEL = ColumnKernel.BEST;

    /** Blocks per super-block of the two-level lazy update. */
    static final int SUPER_BLOCKS = 8;

    private static int sb0(int b, int superBlock) {
        return b / superBlock * superBlock;
    }
}
