package org.fmsmo.core.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.api.quant.Scalars;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Bmm;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.nn.RmsNorm;
import org.fmsmo.core.quant.QLinear;
import org.fmsmo.core.quant.QuantizerModes;
import org.junit.jupiter.api.Test;

/**
 * A QAT step's gradients do not depend on when the garbage collector runs.
 *
 * <p>DJL makes the constant of {@code x.mul(2f)} (and div, pow, maximum, minimum) over a direct
 * buffer that a collection frees; autograd still holds the constant for the backward pass. The
 * freed memory is overwritten at once (the allocator stores its free-list links there), so a
 * backward pass after a collection read garbage: QAT runs differed from run to run, and a resumed
 * run from the uninterrupted one. The forward pass here is the training path of a Llama block
 * with quantized layers — RMSNorm, PACT+ inputs and SAWB+ weights, scaled attention, the KL
 * distillation loss divided over accumulation steps — and its gradients must be bit-identical
 * whether or not the collector ran between forward and backward.
 */
class GradientLifetimeTest {

    @Test
    void aCollectionBetweenForwardAndBackwardChangesNoGradient() {
        Map<String, float[]> quiet = gradients(false);
        Map<String, float[]> collected = gradients(true);
        assertEquals(quiet.keySet(), collected.keySet());
        quiet.forEach((name, g) -> assertArrayEquals(g, collected.get(name), name + "'s gradient after a collection"));
    }

    private static Map<String, float[]> gradients(boolean collectBeforeBackward) {
        int tokens = 6;
        int hidden = 8;
        int heads = 2;
        try (NDManager m = NDManager.newBaseManager()) {
            Random r = new Random(7);
            NDArray x = m.create(randoms(r, tokens * hidden), new Shape(1, tokens, hidden));
            NDArray gain = m.create(randoms(r, hidden));
            List<QLinear> projections = new ArrayList<>();
            List<Quantizer> quantizers = new ArrayList<>();
            for (String name : List.of("q", "k", "v", "o")) {
                Quantizer wq = QuantizerModes.create("sawb+", QuantizerModes.specFor("sawb+", 4, 0, RangeSource.MINMAX));
                Quantizer aq = QuantizerModes.create("pact+", QuantizerModes.specFor("pact+", 8, 0, RangeSource.MINMAX));
                aq.loadState(Map.of("clip_val", new float[] {1.5f}, "clip_valn", new float[] {-1.25f}));
                projections.add(new QLinear(new Linear(name, m.create(randoms(r, hidden * hidden), new Shape(hidden, hidden)), null), wq, aq));
                quantizers.add(wq);
                quantizers.add(aq);
            }
            NDArray teacher = m.create(randoms(r, tokens * hidden), new Shape(1, tokens, hidden));
            Map<String, NDArray> params = new LinkedHashMap<>();
            params.put("x", x);
            params.put("norm", gain);
            for (QLinear p : projections) {
                params.put(p.name() + ".weight", p.wrapped().weight());
                p.inputQuantizer().orElseThrow().parameters().forEach((k, v) -> params.put(p.name() + "." + k, v));
            }
            params.values().forEach(a -> a.setRequiresGradient(true));
            quantizers.forEach(q -> q.setTraining(true));
            try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
                NDArray h = new RmsNorm(gain, 1e-5).forward(x);
                NDArray q = heads(projections.get(0).forward(h), heads);
                NDArray k = heads(projections.get(1).forward(h), heads);
                NDArray v = heads(projections.get(2).forward(h), heads);
                NDArray a = Attention.scaledDotProduct(q, k, v, Attention.causalMask(m, tokens), (float) (1 / Math.sqrt(hidden / heads)),
                        Bmm.plain("bmm1"), Bmm.plain("bmm2"));
                NDArray out = projections.get(3).forward(a.transpose(0, 2, 1, 3).reshape(1, tokens, hidden));
                NDArray loss = Scalars.div(Training.klDistill(out, teacher), 2);
                if (collectBeforeBackward) {
                    collectGarbage();
                }
                c.backward(loss);
            }
            Map<String, float[]> grads = new LinkedHashMap<>();
            params.forEach((name, p) -> grads.put(name, p.getGradient().toFloatArray()));
            quantizers.forEach(Quantizer::close);
            return grads;
        }
    }

    private static NDArray heads(NDArray y, int heads) {
        Shape s = y.getShape();
        return y.reshape(s.get(0), s.get(1), heads, s.get(2) / heads).transpose(0, 2, 1, 3);
    }

    /** Full collections until the JVM has run the cleaners of unreachable direct buffers. */
    private static void collectGarbage() {
        for (int i = 0; i < 5; i++) {
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static float[] randoms(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }
}
