package org.fmsmo.plugin.gptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The blocked, lazily-updated GPTQ against a direct transcription of QUANTIZERS.md in double
 * precision (explicit H⁻¹ by Gauss–Jordan, its Cholesky factor, one column at a time, every
 * update applied at once), and the blocked Cholesky against the definition.
 */
class GptqTest {

    private static final Random RNG = new Random(7);

    private static float[] randn(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (RNG.nextGaussian() * scale);
        }
        return a;
    }

    private static float[] f(double[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (float) a[i];
        }
        return out;
    }

    /** H = (2/N) XᵀX of correlated inputs, with a few loud channels as in real activations. */
    private static double[] hessian(int n, int rows) {
        float[] x = randn(rows * n, 1);
        for (int r = 0; r < rows; r++) {
            for (int j = 1; j < n; j++) {
                x[r * n + j] += 0.5f * x[r * n + j - 1];
            }
            x[r * n + 3] *= 8;
        }
        double[] h = new double[n * n];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < n; i++) {
                for (int j = i; j < n; j++) {
                    h[i * n + j] += 2.0 / rows * x[r * n + i] * x[r * n + j];
                }
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                h[i * n + j] = h[j * n + i];
            }
        }
        return h;
    }

    /**
     * 300: three panels, the last ragged; 1300: big enough that the level products split their
     * triangular and symmetric factors ({@link Cholesky#FULL}), with ragged halves.
     */
    @ParameterizedTest
    @ValueSource(ints = {300, 1300})
    void blockedInverseFactorSatisfiesUtUEqualsHInverse(int n) throws Exception {
        double[] h = hessian(n, 2 * n);
        try (NDManager m = NDManager.newBaseManager()) {
            float[] u = f(h);
            Cholesky.inverseUpperFactorInPlace(u, n, m);
            // (UᵀU)·H = I, column by column: Uᵀ(U(H e_j)) against e_j
            double worst = 0;
            for (int j = 0; j < n; j += 5) {
                double[] uh = new double[n];
                for (int p = 0; p < n; p++) {
                    for (int k = p; k < n; k++) {
                        uh[p] += (double) u[p * n + k] * h[k * n + j];
                    }
                }
                for (int i = 0; i < n; i++) {
                    double s = 0;
                    for (int p = 0; p <= i; p++) {
                        s += (double) u[p * n + i] * uh[p];
                    }
                    worst = Math.max(worst, Math.abs(s - (i == j ? 1 : 0)));
                }
            }
            assertTrue(worst < 2e-3, "max |UᵀU·H − I| = " + worst);
            for (int i = 1; i < n; i++) {
                for (int k = 0; k < i; k++) {
                    assertEquals(0f, u[i * n + k], "U is upper triangular");
                }
            }
        }
    }

    /** The reference: QUANTIZERS.md's loop, in double, with no blocking. */
    private static float[] reference(float[] w, int out, int in, double[] h, int bits, boolean sym, int group, double damp) {
        double[] hd = h.clone();
        double mean = 0;
        for (int i = 0; i < in; i++) {
            mean += hd[i * in + i] / in;
        }
        for (int i = 0; i < in; i++) {
            hd[i * in + i] += damp * mean;
        }
        double[] inv = gaussJordanInverse(hd, in);
        double[] u = upperCholesky(inv, in);
        double[][] wd = new double[out][in];
        for (int r = 0; r < out; r++) {
            for (int c = 0; c < in; c++) {
                wd[r][c] = w[r * in + c];
            }
        }
        float[] deq = new float[out * in];
        IntGrid grid = new IntGrid(bits, sym, out, false);
        for (int i = 0; i < in; i++) {
            if (i % group == 0) {
                float[] cols = new float[in * out];
                for (int c = i; c < Math.min(in, i + group); c++) {
                    for (int r = 0; r < out; r++) {
                        cols[c * out + r] = (float) wd[r][c];
                    }
                }
                grid.fit(cols, out, i, Math.min(in, i + group), 0, out);
            }
            for (int r = 0; r < out; r++) {
                float v = grid.value(grid.code((float) wd[r][i], r), r);
                deq[r * in + i] = v;
                double e = (wd[r][i] - v) / u[i * in + i];
                for (int j = i + 1; j < in; j++) {
                    wd[r][j] -= e * u[i * in + j];
                }
            }
        }
        return deq;
    }

    private static double[] gaussJordanInverse(double[] a, int n) {
        double[] m = a.clone();
        double[] inv = new double[n * n];
        for (int i = 0; i < n; i++) {
            inv[i * n + i] = 1;
        }
        for (int c = 0; c < n; c++) {
            double p = m[c * n + c];
            for (int j = 0; j < n; j++) {
                m[c * n + j] /= p;
                inv[c * n + j] /= p;
            }
            for (int r = 0; r < n; r++) {
                if (r != c) {
                    double f = m[r * n + c];
                    for (int j = 0; j < n; j++) {
                        m[r * n + j] -= f * m[c * n + j];
                        inv[r * n + j] -= f * inv[c * n + j];
                    }
                }
            }
        }
        return inv;
    }

    /** Upper U with A = UᵀU. */
    private static double[] upperCholesky(double[] a, int n) {
        double[] u = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double s = a[i * n + j];
                for (int k = 0; k < i; k++) {
                    s -= u[k * n + i] * u[k * n + j];
                }
                u[i * n + j] = i == j ? Math.sqrt(s) : s / u[i * n + i];
            }
        }
        return u;
    }

    /** The layer-output error GPTQ minimises: tr((W − Ŵ) H (W − Ŵ)ᵀ). */
    private static double outputError(float[] w, float[] deq, double[] h, int out, int in) {
        double total = 0;
        for (int r = 0; r < out; r++) {
            double[] d = new double[in];
            for (int c = 0; c < in; c++) {
                d[c] = w[r * in + c] - deq[r * in + c];
            }
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int j = 0; j < in; j++) {
                    s += h[i * in + j] * d[j];
                }
                total += d[i] * s;
            }
        }
        return total;
    }

    /**
     * The reported output error, sqrt(tr(D H Dᵀ) / tr(W H Wᵀ)), computed from H's upper-triangle
     * tiles in the engine (2,500 inputs: three tile columns, the last ragged), equals the
     * double-precision trace over the full H on every row.
     */
    @Test
    void reportedOutputErrorEqualsTheTraceRatio() {
        int out = 16;
        int in = 2500;
        int rows = 300;
        float[] w = randn(out * in, 0.05);
        float[] x = randn(rows * in, 1);
        try (NDManager m = NDManager.newBaseManager(); Hessian h = new Hessian(in, m)) {
            h.add(m.create(x, new ai.djl.ndarray.types.Shape(rows, in)));
            float[] full = h.value();
            double[] hd = new double[full.length];
            for (int i = 0; i < full.length; i++) {
                hd[i] = full[i];
            }
            Gptq.Options o = new Gptq.Options(4, true, 128, 0.01, false, false, 128, false);
            Gptq.Result r = Gptq.quantize(w, out, in, Gptq.factor(h, in, o, m), o, m);
            double expected = Math.sqrt(outputError(w, r.dequantized(), hd, out, in) / outputError(w, new float[w.length], hd, out, in));
            double got = GptqMethod.sampledOutputError(GptqMethod.sampleRows(Gptq.transpose(w, out, in), out, in), r, h, out, in, m);
            assertEquals(expected, got, 1e-4 * expected, "output error from H's tiles");
            Gptq.Result fromArray = Gptq.quantize(w, out, in, full, o, m);
            assertArrayEquals(fromArray.codes(), r.codes(), "the tiles' factor and the full array's give the same codes");
            java.util.List<Integer> order = new java.util.ArrayList<>(java.util.stream.IntStream.range(0, in).boxed().toList());
            java.util.Collections.shuffle(order, new Random(3));
            int[] perm = order.stream().mapToInt(Integer::intValue).toArray();
            assertArrayEquals(Gptq.Source.of(full, in).copy(perm), h.copy(perm), "act-order copy assembled from the tiles");
            float[] upper = h.upperTriangle(null);
            for (int i = 0; i < in; i++) {
                for (int j = i; j < in; j++) {
                    assertEquals(full[i * in + j], upper[i * in + j], "the factor's copy holds H's upper triangle");
                }
            }
        }
    }

    /**
     * Rounding cascades (one flipped code changes every later update), so the two cannot agree
     * code for code; they agree up to the first flip, and on the error they reach.
     */
    @Test
    void blockedLazyGptqMatchesTheColumnByColumnDefinition() {
        // groups inside blocks (64 in 128), and groups that reach past the block (96 with blocks of 64)
        matchesTheColumnByColumnDefinition(300, new int[][] {{64, 128}, {96, 64}}, new boolean[] {true, false});
    }

    /** Past {@link GemmKernel#MIN_COLUMNS} the lazy updates run on the vector kernel (a super-block of 1,024 columns and a ragged one). */
    @Test
    void wideLayersMatchTheColumnByColumnDefinition() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
            assertTrue(GemmKernel.BEST != null, "with jdk.incubator.vector the lazy updates run on the vector kernel");
        }
        matchesTheColumnByColumnDefinition(1100, new int[][] {{128, 128}}, new boolean[] {true});
    }

    private static void matchesTheColumnByColumnDefinition(int in, int[][] groupsAndBlocks, boolean[] symmetric) {
        int out = 24;
        float[] w = randn(out * in, 0.05);
        double[] h = hessian(in, Math.max(800, 2 * in)); // full rank
        for (int[] groupAndBlock : groupsAndBlocks)
        for (boolean sym : symmetric) {
            int group = groupAndBlock[0];
            float[] expected = reference(w, out, in, h, 4, sym, group, 0.01);
            try (NDManager m = NDManager.newBaseManager()) {
                Gptq.Result r = Gptq.quantize(w, out, in, f(h), new Gptq.Options(4, sym, group, 0.01, false, false, groupAndBlock[1], false), m);
                int firstFlip = in;
                for (int i = 0; i < expected.length; i++) {
                    if (expected[i] != r.dequantized()[i]) {
                        firstFlip = Math.min(firstFlip, i % in);
                    }
                }
                Gptq.Result rtn = Gptq.quantize(w, out, in, f(identity(in)), new Gptq.Options(4, sym, group, 0.01, false, false, 128, false), m);
                double mine = outputError(w, r.dequantized(), h, out, in);
                double ref = outputError(w, expected, h, out, in);
                double round = outputError(w, rtn.dequantized(), h, out, in);
                String what = (sym ? "sym" : "asym") + " g" + group + " block " + groupAndBlock[1] + ": first differing column " + firstFlip + ", error " + mine + " vs reference " + ref
                        + " vs RTN " + round;
                System.out.println(what);
                assertTrue(firstFlip >= 20, what);
                // A group that starts inside a block and reaches past it is fitted on columns whose
                // lazy update is still pending (as in the reference GPTQ implementations), so there
                // the two fit different grids from the group's first column on: a looser bound.
                boolean straddles = groupAndBlock[1] % group != 0;
                assertEquals(ref, mine, ref * (straddles ? 0.03 : 0.01), what);
                assertTrue(mine < 0.7 * round, what);
                assertEquals((in + group - 1) / group, r.groups(), in + " columns in groups of " + group);
                assertNull(r.groupIndex(), "groups are contiguous without act-order");
            }
        }
    }

    /**
     * The Hessian of inputs added in two batches (40 and 24 rows), each in its own NDScope, equals
     * (2/N) XᵀX summed in double; d·H from its slabs equals d times it.
     */
    @Test
    void hessianOfWideInputsEqualsTheDefinition() {
        int n = 1100; // past GemmKernel.MIN_COLUMNS: the vector kernel's slabs, with row, column and token edges
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
            assertTrue(GemmKernel.BEST != null, "with jdk.incubator.vector the Hessian's slabs are summed by the vector kernel");
        }
        int rows = 64;
        float[] x = randn(rows * n, 1);
        float[] got;
        long seen;
        try (NDManager m = NDManager.newBaseManager(); Hessian h = new Hessian(n, m)) {
            try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                scope.suppressNotUsedWarning();
                h.add(m.create(java.util.Arrays.copyOfRange(x, 0, 40 * n), new ai.djl.ndarray.types.Shape(40, n)));
            }
            try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) { // as the streamed pipeline hands batches over
                scope.suppressNotUsedWarning();
                h.add(m.create(java.util.Arrays.copyOfRange(x, 40 * n, rows * n), new ai.djl.ndarray.types.Shape(rows - 40, n)));
            }
            got = h.value();
            seen = h.rows();
            // d·H from the slabs equals d times the mirrored H, for rows straddling every slab
            float[] d = randn(3 * n, 2);
            float[] dh = h.times(m.create(d, new ai.djl.ndarray.types.Shape(3, n))).toFloatArray();
            double worstProduct = 0;
            for (int k = 0; k < 3; k++) {
                for (int j = 0; j < n; j += 5) {
                    double s = 0;
                    for (int i = 0; i < n; i++) {
                        s += (double) d[k * n + i] * got[i * n + j];
                    }
                    worstProduct = Math.max(worstProduct, Math.abs(dh[k * n + j] - s) / Math.max(1, Math.abs(s)));
                }
            }
            assertTrue(worstProduct < 1e-4, "max relative |d·H − d·value()| = " + worstProduct);
        }
        double worst = 0;
        for (int i = 0; i < n; i += 3) {
            for (int j = 0; j < n; j += 7) {
                double s = 0;
                for (int r = 0; r < rows; r++) {
                    s += (double) x[r * n + i] * x[r * n + j];
                }
                worst = Math.max(worst, Math.abs(got[i * n + j] - 2 * s / rows));
            }
        }
        assertTrue(worst < 1e-4, "max |H − (2/N)XᵀX| = " + worst);
        assertEquals(rows, seen);
    }

    private static double[] identity(int n) {
        double[] h = new double[n * n];
        for (int i = 0; i < n; i++) {
            h[i * n + i] = 1;
        }
        return h;
    }

    @Test
    void identityHessianIsRoundToNearest() {
        int out = 5;
        int in = 40;
        float[] w = randn(out * in, 1);
        double[] h = identity(in);
        try (NDManager m = NDManager.newBaseManager()) {
            Gptq.Result r = Gptq.quantize(w, out, in, f(h), new Gptq.Options(3, true, 16, 0.01, false, false, 128, false), m);
            // U is diagonal, so no error moves: every group is rounded on its own, s = amax/3.5.
            for (int row = 0; row < out; row++) {
                for (int c = 0; c < in; c++) {
                    int g = c / 16;
                    float amax = 0;
                    for (int k = g * 16; k < Math.min(in, g * 16 + 16); k++) {
                        amax = Math.max(amax, Math.abs(w[row * in + k]));
                    }
                    float s = amax / 3.5f;
                    float q = Math.max(-4, Math.min(3, (float) Math.rint(w[row * in + c] / s)));
                    assertEquals(q * s, r.dequantized()[row * in + c], 0f, "row " + row + " col " + c);
                }
            }
        }
    }

    @Test
    void actOrderRecordsTheGroupOfEachColumnAndDeadColumnsAreZero() {
        int out = 8;
        int in = 96;
        float[] w = randn(out * in, 0.1);
        double[] h = hessian(in, 300);
        for (int j = 0; j < in; j++) { // input 5 never fires
            h[5 * in + j] = 0;
            h[j * in + 5] = 0;
        }
        try (NDManager m = NDManager.newBaseManager()) {
            Gptq.Result r = Gptq.quantize(w, out, in, f(h), new Gptq.Options(4, false, 32, 0.01, true, false, 32, false), m);
            assertNotNull(r.groupIndex(), "act-order groups are not contiguous");
            int[] count = new int[r.groups()];
            for (int g : r.groupIndex()) {
                count[g]++;
            }
            assertArrayEquals(new int[] {32, 32, 32}, count);
            assertEquals(0, r.groupIndex()[3], "the loud input 3 has the largest H_ii and comes first");
            for (int row = 0; row < out; row++) {
                assertEquals(0f, r.dequantized()[row * in + 5], "dead column");
                for (int c = 0; c < in; c++) {
                    int code = r.code(row * in + c);
                    assertTrue(code >= 0 && code <= 15, "asymmetric W4 codes lie in [0, 15]: " + code);
                }
            }
            Gptq.Result st = Gptq.quantize(w, out, in, f(h), new Gptq.Options(4, false, 32, 0.01, true, true, 32, false), m);
            assertNull(st.groupIndex(), "static groups keep column j in group j / 32 even with act-order");
        }
    }

    /** Output rows are independent given U: the column loop split over row ranges gives the single-range result bit for bit. */
    @Test
    void rowRangesInParallelGiveTheSerialResult() {
        int out = 200;
        int in = 160;
        float[] w = randn(out * in, 0.05);
        float[] h = f(hessian(in, 400));
        for (boolean sym : new boolean[] {true, false}) {
            Gptq.Options o = new Gptq.Options(4, sym, 32, 0.01, !sym, false, 64, true);
            try (NDManager m = NDManager.newBaseManager()) {
                Gptq.Result one = Gptq.quantize(w, out, in, h, o, m, 1);
                Gptq.Result three = Gptq.quantize(w, out, in, h, o, m, 3);
                assertArrayEquals(one.codes(), three.codes());
                assertArrayEquals(one.dequantized(), three.dequantized());
                assertArrayEquals(one.scale(), three.scale());
                if (!sym) {
                    assertArrayEquals(one.zero(), three.zero());
                }
            }
        }
    }
}
