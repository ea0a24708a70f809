package org.fmsmo.plugin.dq;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.InputGroup;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantReport;

/**
 * Direct quantization, SmoothQuant-style (QUANTIZERS.md). With {@code smoothq} (default true):
 * per input group (layers reading one tensor), from the calibration examples' per-channel
 * {@code max|X_j|} and the group's {@code max|W_{:,j}|},
 * {@code s_j = max|X_j|^α / max|W_{:,j}|^(1−α)} ({@code smoothq_alpha}, default 0.5); the host
 * divides the input by {@code s} (folded into the producing norm where it can) and multiplies the
 * weights' columns by it. Then {@code qmodel_prep} wraps the layers — weights per channel,
 * activations per token (dynamic) or per tensor (static, calibrated) as the plan says — and the
 * weights are frozen.
 */
final class DqMethod implements QuantMethod {

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        if (context.config().getBoolean("smoothq", true)) {
            smooth(context, context.config().getDouble("smoothq_alpha", 0.5));
        }
        List<LayerWrapper> layers = context.prepare();
        List<QuantReport.LayerResult> results = new ArrayList<>();
        context.progress().begin("dq freeze", layers.size(), "layers");
        try {
            for (LayerWrapper l : layers) {
                if (context.progress().isCancelled()) {
                    throw new CancellationException("dq cancelled before layer " + l.name());
                }
                l.freeze();
                results.add(QuantReport.frozenLayerResult(l));
                context.progress().advance(1);
            }
        } finally {
            context.progress().end();
        }
        return new QuantReport("dq", results, (System.nanoTime() - start) / 1e9);
    }

    /** Smooths every input group whose layers are all quantized with quantized inputs. */
    private static void smooth(QuantContext context, double alpha) {
        Set<String> quantized = new HashSet<>();
        for (LayerDecision d : context.plan().quantized()) {
            if (d.inputSpec() != null) {
                quantized.add(d.name());
            }
        }
        List<InputGroup> groups = context.plan().inputGroups().stream().filter(g -> quantized.containsAll(g.layers())).toList();
        List<String> names = groups.stream().flatMap(g -> g.layers().stream()).toList();
        if (names.isEmpty()) {
            return;
        }
        Map<String, float[]> xMax = context.inputChannelAbsMax(names);
        for (InputGroup g : groups) {
            float[] x = xMax.get(g.layers().getFirst());
            float[] w = new float[x.length];
            for (String name : g.layers()) {
                LinearLayer l = context.model().linear(name);
                float[] colMax = l.weight().abs().max(new int[] {0}).toFloatArray();
                for (int j = 0; j < w.length; j++) {
                    w[j] = Math.max(w[j], colMax[j]);
                }
            }
            context.smooth(g.layers(), factors(x, w, alpha));
        }
    }

    /** {@code s_j = x_j^α / w_j^(1−α)}, 1 where a channel is dead (x or w zero), floored at 1e−5. */
    static float[] factors(float[] x, float[] w, double alpha) {
        float[] s = new float[x.length];
        for (int j = 0; j < s.length; j++) {
            double v = x[j] > 0 && w[j] > 0 ? Math.pow(x[j], alpha) / Math.pow(w[j], 1 - alpha) : 1;
            s[j] = (float) Math.max(v, 1e-5);
        }
        return s;
    }
}
