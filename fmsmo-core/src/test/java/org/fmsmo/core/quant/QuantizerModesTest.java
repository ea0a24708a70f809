package org.fmsmo.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Map;
import java.util.Random;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.RangeSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The learned and statistics modes against values and gradients derived by hand from
 * QUANTIZERS.md, and the frozen form against the simulation for every mode.
 */
class QuantizerModesTest {

    private static NDManager m;

    @BeforeAll
    static void open() {
        m = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        m.close();
    }

    private static Quantizer q(String mode, int bits) {
        return QuantizerModes.create(mode, QuantizerModes.specFor(mode, bits, 4, RangeSource.MINMAX));
    }

    /** y and the gradients of sum(y) w.r.t. x and the quantizer's parameters. */
    private static Map<String, float[]> grads(Quantizer quantizer, float[] values) {
        NDArray x = m.create(values);
        x.setRequiresGradient(true);
        quantizer.setTraining(true);
        try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
            NDArray y = quantizer.fakeQuantize(x);
            c.backward(y.sum());
            Map<String, float[]> out = new java.util.LinkedHashMap<>();
            out.put("y", y.toFloatArray());
            out.put("x", x.getGradient().toFloatArray());
            quantizer.parameters().forEach((k, p) -> out.put(k, p.getGradient().toFloatArray()));
            return out;
        }
    }

    @Test
    void pactClipGradientIsOneAboveTheClip() {
        // 2 bits, alpha 2: s = 2/3; clamp → 0, .5, 1, 2, 2; x/s = 0, .75, 1.5, 3, 3 → 0, 1, 2 (half to even), 3, 3.
        Quantizer pact = q("pact", 2);
        pact.loadState(Map.of("clip_val", new float[] {2f}));
        Map<String, float[]> g = grads(pact, new float[] {-1f, 0.5f, 1f, 2.5f, 3f});
        assertArrayEquals(new float[] {0f, 2f / 3, 4f / 3, 2f, 2f}, g.get("y"), 1e-6f);
        assertArrayEquals(new float[] {0f, 1f, 1f, 0f, 0f}, g.get("x"), 0f, "STE inside [0, alpha], 0 outside");
        assertArrayEquals(new float[] {2f}, g.get("clip_val"), 0f, "d y / d alpha = 1 where x >= alpha");
    }

    @Test
    void pactPlusClipGradientAddsTheRoundingResidual() {
        // Same input; inside, d/d alpha gains (round z − z)/n with z = x·n/alpha: (1 − .75)/3 + (2 − 1.5)/3 = .25.
        Quantizer pact = q("pact+", 2);
        pact.loadState(Map.of("clip_val", new float[] {2f}));
        Map<String, float[]> g = grads(pact, new float[] {-1f, 0.5f, 1f, 2.5f, 3f});
        assertArrayEquals(new float[] {0f, 1f, 1f, 0f, 0f}, g.get("x"), 1e-6f);
        assertEquals(2.25f, g.get("clip_val")[0], 1e-5f);
    }

    @Test
    void pactsymClipGradientIsTheSignOutside() {
        Quantizer pact = q("pactsym", 4);
        pact.loadState(Map.of("clip_val", new float[] {1f}));
        Map<String, float[]> g = grads(pact, new float[] {-3f, -0.2f, 0.4f, 2f, 5f});
        assertArrayEquals(new float[] {0f, 1f, 1f, 0f, 0f}, g.get("x"), 0f);
        assertArrayEquals(new float[] {1f}, g.get("clip_val"), 0f, "-1 for x <= -alpha, +1 twice for x >= alpha");
    }

    @Test
    void lsqStepGradientIsScaled() {
        // 4 bits: Qn = −8, Qp = 7; s = 0.1, beta = 0: v = 2.6, −1.4, 50 → clamped 7.
        // d/ds: (round v − v) inside, Qp when clamped: .4 + .4 + 7 = 7.8, times 1/sqrt(3·7).
        // d/d beta: 0 inside, 1 when clamped. d/dx: 1, 1, 0.
        Quantizer lsq = q("lsq+", 4);
        lsq.loadState(Map.of("scale", new float[] {0.1f}, "offset", new float[] {0f}));
        Map<String, float[]> g = grads(lsq, new float[] {0.26f, -0.14f, 5f});
        assertArrayEquals(new float[] {0.3f, -0.1f, 0.7f}, g.get("y"), 1e-6f);
        assertArrayEquals(new float[] {1f, 1f, 0f}, g.get("x"), 1e-6f);
        assertEquals(7.8 / Math.sqrt(21), g.get("scale")[0], 1e-5);
        assertEquals(1f, g.get("offset")[0], 1e-6f);
    }

    @Test
    void sawbStraightThroughOnlyInsideAndSawbPlusEverywhere() {
        // 2 bits: alpha = 2.6·sqrt(E[w²]) − 1.71·E|w| = 2.6·sqrt(1.1/11) − 1.71·2/11 ≈ 0.511: 1.0 is clipped, ±0.1 are not.
        float[] w = {0.1f, -0.1f, 0.1f, -0.1f, 0.1f, -0.1f, 0.1f, -0.1f, 0.1f, -0.1f, 1f};
        float[] inside = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
        assertArrayEquals(inside, grads(q("sawb", 2), w).get("x"), 0f, "the outlier is clipped");
        assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, grads(q("sawb+", 2), w).get("x"), 0f);
    }

    @Test
    void sawbClipFollowsTheFormula() {
        float[] w = {0.1f, -0.2f, 0.05f, 0.3f, -0.02f, 0.4f, -0.35f, 0.15f};
        double meanSq = 0;
        double meanAbs = 0;
        for (float v : w) {
            meanSq += v * v / 8.0;
            meanAbs += Math.abs(v) / 8.0;
        }
        double alpha = 12.035 * Math.sqrt(meanSq) - 12.03 * meanAbs;
        float scale = q("sawb", 4).quantize(m.create(w)).scale().getFloat(0);
        assertEquals(2 * alpha / 14, scale, 1e-6, "s = 2 alpha / (2^b − 2)");
    }

    @Test
    void zeroAlignedGridRoundsTiesOnTheShiftedCode() {
        // max, 4 bits, alpha 7: n = 14; x = 3.5 → z = (0.5 + 1)/2·14 = 10.5 → 10 (half to even) → code 3,
        // where round(x/s) on the restricted grid would give 4.
        byte[] codes = q("max", 4).quantize(m.create(new float[] {3.5f, -7f, 0f})).codes().toByteArray();
        assertArrayEquals(new byte[] {3, -7, 0}, codes);
    }

    @Test
    void perTokenMaxFloorsTheScale() {
        NDArray x = m.create(new float[] {0f, 0f, 2f, -1f}, new Shape(2, 2));
        float[] scale = q("pertokenmax", 8).quantize(x).scale().toFloatArray();
        assertArrayEquals(new float[] {1e-5f / 127, 2f / 127}, scale, 1e-12f);
    }

    @Test
    void fixNeedsAClipAndUsesIt() {
        Quantizer fix = q("fix", 8);
        assertThrows(FmsmoException.class, () -> fix.fakeQuantize(m.create(new float[] {1f})));
        fix.loadState(Map.of("clip_val", new float[] {1f}));
        assertArrayEquals(new float[] {1f, -1f}, fix.fakeQuantize(m.create(new float[] {3f, -2f})).toFloatArray(), 0f);
    }

    @Test
    void nonFiniteInputsAreRejected() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            FmsmoException e = assertThrows(FmsmoException.class, () -> q("maxperCh", 8).fakeQuantize(m.create(new float[] {1f, bad}, new Shape(1, 2))));
            assertTrue(e.getMessage().contains("expected finite values"), e.getMessage());
        }
    }

    @Test
    void sawbHasNoSixBitFit() {
        assertFalse(new QuantizerModes.SawbMode().supports(QuantSpec.intSymmetric(6)));
        assertThrows(FmsmoException.class, () -> new QuantizerModes.SawbMode().create(QuantSpec.intSymmetric(6)));
    }

    @Test
    void everyModeSimulatesItsFrozenFormBitForBitAlsoWithGradients() {
        Random r = new Random(7);
        float[] v = new float[8 * 12];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextGaussian() * (i % 5 == 0 ? 3 : 0.5));
        }
        for (String mode : QuantizerModes.NAMES) {
            for (int bits : mode.startsWith("fp8") ? new int[] {8} : mode.startsWith("sawb") ? new int[] {2, 4, 8} : new int[] {2, 4, 8}) {
                Quantizer quantizer = q(mode, bits);
                if (mode.equals("fix")) {
                    quantizer.loadState(Map.of("clip_val", new float[] {1.5f}));
                }
                NDArray x = m.create(v, new Shape(8, 12));
                float[] frozen = quantizer.quantize(x).dequantize().toFloatArray();
                assertArrayEquals(frozen, quantizer.fakeQuantize(x).toFloatArray(), 0f, mode + " " + bits);
                quantizer.setTraining(true);
                x.setRequiresGradient(true);
                try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
                    NDArray y = quantizer.fakeQuantize(x);
                    quantizer.setTraining(false); // a training call may move an EMA clip; compare with the clip it used
                    assertArrayEquals(quantizer.quantize(x).dequantize().toFloatArray(), y.toFloatArray(), 0f, mode + " " + bits + " training");
                    c.backward(y.sum());
                }
                quantizer.close();
            }
        }
    }

    @Test
    void observersFindTheExpectedClips() {
        float[] v = new float[10_000];
        for (int i = 0; i < v.length; i++) {
            v[i] = i / 10_000f; // uniform on [0, 1)
        }
        v[0] = -50f; // one outlier
        HistogramObserver p = new HistogramObserver(HistogramObserver.Kind.PERCENTILE, 8, false);
        p.percentile(99.0);
        p.observe(m.create(v));
        float[] range = p.range();
        assertEquals(0.99f, range[1], 0.03f, "99th percentile of U[0, 1)");
        assertTrue(range[0] > -1f, "the outlier is clipped by the 1st percentile, found " + range[0]);
        HistogramObserver mse = new HistogramObserver(HistogramObserver.Kind.MSE, 4, false);
        mse.observe(m.create(v));
        assertTrue(mse.range()[0] > -50f, "MSE clips a lone outlier at 4 bits");
        RangeObserver.MinMax minmax = new RangeObserver.MinMax();
        minmax.observe(m.create(v));
        assertArrayEquals(new float[] {-50f, 0.9999f}, minmax.range(), 1e-6f);
    }
}
