package org.fmsmo.api.quant;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fmsmo.api.Stable;

/**
 * What a method did.
 *
 * @param method   the method's name; not null
 * @param layers   one entry per quantized layer, in order; copied
 * @param seconds  wall time of the run
 * @param totals   named measurements of the whole run (a training method's first and last loss,
 *                 held-out metric before and after …); copied, insertion order kept
 */
@Stable(since = "1.0")
public record QuantReport(String method, List<LayerResult> layers, double seconds, Map<String, Double> totals) {

    /** Copies the list and the map. */
    public QuantReport {
        Objects.requireNonNull(method, "method");
        layers = List.copyOf(layers);
        totals = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(totals));
    }

    /** A report without run totals. */
    public QuantReport(String method, List<LayerResult> layers, double seconds) {
        this(method, layers, seconds, Map.of());
    }

    /**
     * One quantized layer.
     *
     * @param name    module path
     * @param spec    weight spec used
     * @param metrics named measurements, e.g. {@code weight_rel_error} = ‖W − Ŵ‖ / ‖W‖; copied
     */
    @Stable(since = "1.0")
    public record LayerResult(String name, QuantSpec spec, Map<String, Double> metrics) {
        /** Copies the map. */
        public LayerResult {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(spec, "spec");
            metrics = Map.copyOf(metrics);
        }
    }

    /**
     * A frozen layer's weight error: {@code weight_rel_error} = ‖W − Ŵ‖_F / ‖W‖_F and
     * {@code weight_max_abs_error} = max |W − Ŵ|.
     */
    public static LayerResult frozenLayerResult(LayerWrapper layer) {
        ai.djl.ndarray.NDArray w = layer.weight();
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) { // frees the weight-sized temporaries now
            scope.suppressNotUsedWarning();
            ai.djl.ndarray.NDArray diff = w.sub(layer.frozenWeight().dequantize());
            double errNorm = diff.norm().getFloat();
            double wNorm = w.norm().getFloat();
            double maxAbs = diff.abs().max().getFloat();
            return new LayerResult(layer.name(), layer.weightQuantizer().spec(),
                    Map.of("weight_rel_error", wNorm == 0 ? 0 : errNorm / wNorm, "weight_max_abs_error", maxAbs));
        }
    }
}
