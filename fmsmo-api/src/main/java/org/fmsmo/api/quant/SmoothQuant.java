package org.fmsmo.api.quant;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.model.LinearLayer;

/**
 * SmoothQuant (Xiao et al., 2023; QUANTIZERS.md) as methods run it over a {@link QuantContext}:
 * the statistics come from the context's calibration pass ({@link QuantContext#inputChannelAbsMax})
 * and the scales go through its one primitive, {@link QuantContext#smooth} (which folds them into
 * the producing norm where the plan allows). A method-side algorithm: the host only offers the
 * primitives.
 */
@Experimental(since = "1.4")
public final class SmoothQuant {

    private SmoothQuant() {
    }

    /**
     * For every input group whose layers are all quantized with quantized inputs,
     * {@code s_j = max|X_j|^α / max|W_{:,j}|^(1−α)} from the calibration examples' per-channel input
     * maxima and the group's weight column maxima, applied with {@link QuantContext#smooth}. Call
     * before {@link QuantContext#prepare()}.
     *
     * @param alpha migration strength in [0, 1] ({@code smoothq_alpha}; 0.5 in the paper)
     */
    public static void apply(QuantContext context, double alpha) {
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
                float[] colMax;
                try (ai.djl.ndarray.NDArray abs = l.weight().abs(); ai.djl.ndarray.NDArray max = abs.max(new int[] {0})) {
                    colMax = max.toFloatArray(); // weight-sized temporaries: freed now, not with the model
                }
                for (int j = 0; j < w.length; j++) {
                    w[j] = Math.max(w[j], colMax[j]);
                }
            }
            context.smooth(g.layers(), factors(x, w, alpha));
        }
    }

    /** {@code s_j = x_j^α / w_j^(1−α)}, 1 where a channel is dead (x or w zero), floored at 1e−5. */
    public static float[] factors(float[] x, float[] w, double alpha) {
        float[] s = new float[x.length];
        for (int j = 0; j < s.length; j++) {
            double v = x[j] > 0 && w[j] > 0 ? Math.pow(x[j], alpha) / Math.pow(w[j], 1 - alpha) : 1;
            s[j] = (float) Math.max(v, 1e-5);
        }
        return s;
    }
}
