package org.fmsmo.plugin.awq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.core.plugin.PluginRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * AWQ's pieces against hand-computed values and against a direct double-precision evaluation of
 * the objective over the explicit tokens (no Gram matrix, no sampling, no engine matmuls).
 */
class AwqSearchTest {

    private final NDManager nd = NDManager.newBaseManager();
    private final Random random = new Random(11);

    private final PluginRegistry host = PluginRegistry.builder().application().build();

    @AfterEach
    void close() {
        nd.close();
        host.close();
    }

    /** The host's quantizer of this mode: the grid the method freezes with. */
    private Quantizer quantizer(String mode, QuantSpec spec) {
        return host.get(QuantizerProvider.class, mode).create(spec);
    }

    @Test
    void scalesAreTheMagnitudePowerNormalisedSoThatMaxTimesMinIsOne() {
        assertArrayEquals(new float[] {1, 1, 1}, AwqSearch.scales(new float[] {0.5f, 3, 0}, 0), 0f, "α = 0: no scaling");
        // x = (1, 4), α = 1/2: (1, 2) / √2
        assertArrayEquals(new float[] {(float) (1 / Math.sqrt(2)), (float) Math.sqrt(2)}, AwqSearch.scales(new float[] {1, 4}, 0.5), 1e-6f);
        // duo: x^α / w^(1−α) with x = (1, 4), w = (1, 0.25), α = 1/2: (1, 4) / √4
        assertArrayEquals(new float[] {0.5f, 2}, AwqSearch.scales(new float[] {1, 4}, new float[] {1, 0.25f}, 0.5), 1e-6f);
        // a dead channel is floored at 1e−4, never 0
        float[] s = AwqSearch.scales(new float[] {0, 1}, 1);
        assertEquals(1e-2f, s[0], 1e-7f);
        assertEquals(1e2f, s[1], 1e-3f);
    }

    @Test
    void groupMaximaAndClampHandleARaggedLastGroup() {
        float[] w = {1, -3, 2, 0.5f, -4, // row 0: groups (1, −3), (2, 0.5), (−4)
            -1, 1, 1, 1, 2};
        assertArrayEquals(new float[] {3, 2, 4, 1, 1, 2}, AwqSearch.groupMaxAbs(w, 2, 5, 2), 0f);
        NDArray clamped = AwqSearch.clamp(nd.create(w, new Shape(2, 5)), new float[] {2, 1, 3, 0.5f, 1, 1}, 2);
        assertArrayEquals(new float[] {1, -2, 1, 0.5f, -3, -0.5f, 0.5f, 1, 1, 1}, clamped.toFloatArray(), 0f);
    }

    @Test
    void inputStatisticsGiveTheExplicitOutputErrors() {
        int in = 12;
        float[] x = activations(40, in);
        float[] e = gaussian(5 * in);
        NDArray err = nd.create(e, new Shape(5, in));
        try (InputStats stats = InputStats.capture(batches(x, in, 16), in, 64, 1, nd)) { // in ≤ 64: the exact Gram matrix
            assertTrue(stats.exact());
            double expected = explicitError(x, in, e, 5, 0, in);
            assertEquals(expected, stats.outputError(err), 1e-5 * expected);
            float[] groups = stats.groupErrors(err, 5, 5);
            for (int r = 0; r < 5; r++) {
                for (int k = 0; k < 3; k++) {
                    double row = explicitRowError(x, in, e, r, k * 5, Math.min(in, k * 5 + 5));
                    assertEquals(row, groups[r * 3 + k], 1e-5 * row + 1e-9, "row " + r + " group " + k);
                }
            }
        }
        // in = 12 > 10 sampled rows, and only 8 tokens: all of them are kept, so the sample is exact too
        float[] few = activations(8, in);
        try (InputStats stats = InputStats.capture(batches(few, in, 3), in, 10, 1, nd)) {
            assertTrue(!stats.exact());
            double expected = explicitError(few, in, e, 5, 0, in);
            assertEquals(expected, stats.outputError(err), 1e-5 * expected);
            assertEquals(explicitRowError(few, in, e, 2, 5, 10), stats.groupErrors(err, 5, 5)[2 * 3 + 1], 1e-5);
        }
    }

    @Test
    void theScaleSearchPicksTheArgminOfTheDirectObjective() {
        int in = 16;
        int out = 6;
        float[] x = activations(64, in);
        float[] w = gaussian(out * in);
        QuantSpec spec = QuantSpec.parse("int3-sym-group8");
        Quantizer q = quantizer("maxperGp", spec);
        NDArray weight = nd.create(w, new Shape(out, in));
        try (InputStats stats = InputStats.capture(batches(x, in, 20), in, 4096, 1, nd)) {
            AwqSearch.Scale chosen = AwqSearch.searchScale(stats, List.of(weight), List.of(q), 10);
            float[] meanAbs = stats.meanAbs();
            double best = Double.POSITIVE_INFINITY;
            double bestAlpha = -1;
            double base = 0;
            for (int i = 0; i < 10; i++) {
                float[] s = AwqSearch.scales(meanAbs, i / 10.0);
                NDArray sn = nd.create(s);
                float[] deq = q.fakeQuantize(weight.mul(sn)).div(sn).toFloatArray();
                float[] e = new float[w.length];
                for (int k = 0; k < e.length; k++) {
                    e[k] = w[k] - deq[k];
                }
                double loss = explicitError(x, in, e, out, 0, in);
                if (i == 0) {
                    base = loss;
                }
                if (loss < best) {
                    best = loss;
                    bestAlpha = i / 10.0;
                }
            }
            assertEquals(bestAlpha, chosen.alpha(), 1e-12);
            assertEquals(best, chosen.loss(), 1e-5 * best);
            assertEquals(base, chosen.baseLoss(), 1e-5 * base);
            // The activations have loud channels: scaling them up must pay off here.
            assertTrue(chosen.alpha() > 0 && chosen.loss() < 0.95 * chosen.baseLoss(), chosen.toString());
        }
    }

    @Test
    void theClipSearchPicksEachGroupsBestRatio() {
        int in = 16;
        int out = 4;
        float[] x = activations(48, in);
        float[] w = gaussian(out * in);
        w[3] = 6; // an outlier weight: its group gains from clipping it
        QuantSpec spec = QuantSpec.parse("int4-asym-group8");
        Quantizer q = quantizer("minmaxperGp", spec);
        NDArray weight = nd.create(w, new Shape(out, in));
        float[] s = AwqSearch.scales(new float[] {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, 0.5);
        try (InputStats stats = InputStats.capture(batches(x, in, 16), in, 4096, 1, nd)) {
            float[] bound = AwqSearch.searchClip(stats, weight, s, q, 8, 20, 0.5).bound();
            float[] maxAbs = AwqSearch.groupMaxAbs(w, out, in, 8);
            for (int r = 0; r < out; r++) {
                for (int k = 0; k < 2; k++) {
                    double best = Double.POSITIVE_INFINITY;
                    double bestRatio = -1;
                    for (int i = 0; i < 10; i++) {
                        double ratio = 1 - i / 20.0;
                        float[] b = new float[out * 2];
                        java.util.Arrays.fill(b, Float.MAX_VALUE);
                        b[r * 2 + k] = (float) (maxAbs[r * 2 + k] * ratio);
                        float[] deq = q.fakeQuantize(AwqSearch.clamp(weight, b, 8)).toFloatArray();
                        float[] e = new float[w.length];
                        for (int c = k * 8; c < k * 8 + 8; c++) {
                            e[r * in + c] = (w[r * in + c] - deq[r * in + c]) / s[c]; // back to the unscaled input
                        }
                        double err = explicitRowError(x, in, e, r, k * 8, k * 8 + 8);
                        if (err < best * (1 - 1e-6)) {
                            best = err;
                            bestRatio = ratio;
                        }
                    }
                    assertEquals(bestRatio * maxAbs[r * 2 + k], bound[r * 2 + k], 1e-5 * maxAbs[r * 2 + k], "row " + r + " group " + k);
                }
            }
            assertTrue(bound[0] < 0.95f * maxAbs[0], "the group holding the outlier is clipped: " + bound[0] + " of " + maxAbs[0]);
        }
    }

    /** Tokens with a few loud channels (×10, ×30), as LLM activations have. */
    private float[] activations(int tokens, int in) {
        float[] x = gaussian(tokens * in);
        for (int t = 0; t < tokens; t++) {
            x[t * in + 1] *= 10;
            x[t * in + in / 2] *= 30;
        }
        return x;
    }

    private float[] gaussian(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) random.nextGaussian();
        }
        return a;
    }

    /** The tokens as a stage's input, in batches of {@code batch} rows. */
    private QuantContext.LayerInputs batches(float[] x, int in, int batch) {
        int tokens = x.length / in;
        return (Consumer<NDArray> consumer) -> {
            for (int from = 0; from < tokens; from += batch) {
                int n = Math.min(batch, tokens - from);
                try (NDManager m = nd.newSubManager()) {
                    consumer.accept(m.create(java.util.Arrays.copyOfRange(x, from * in, (from + n) * in), new Shape(n, in)));
                }
            }
        };
    }

    /** Σ_t Σ_r (Σ_{c ∈ [from, to)} x_tc e_rc)² / T, in double. */
    private static double explicitError(float[] x, int in, float[] e, int out, int from, int to) {
        double sum = 0;
        for (int r = 0; r < out; r++) {
            sum += explicitRowError(x, in, e, r, from, to);
        }
        return sum;
    }

    private static double explicitRowError(float[] x, int in, float[] e, int r, int from, int to) {
        int tokens = x.length / in;
        double sum = 0;
        for (int t = 0; t < tokens; t++) {
            double y = 0;
            for (int c = from; c < to; c++) {
                y += (double) x[t * in + c] * e[r * in + c];
            }
            sum += y * y;
        }
        return sum / tokens;
    }
}
