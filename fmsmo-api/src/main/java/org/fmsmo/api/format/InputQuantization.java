package org.fmsmo.api.format;

import java.util.Objects;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;

/**
 * How a serving engine quantizes one layer's input when it runs a stored checkpoint, so that the
 * host simulates the same thing after loading it (FP8_DYNAMIC per token, static per-tensor input
 * scales …).
 *
 * @param spec  the activation spec: TOKEN granularity for dynamic per-token scales, TENSOR
 *              otherwise
 * @param scale the stored static dequantization scale ({@code input_scale}); null when each input
 *              brings its own (dynamic)
 */
@Experimental(since = "1.0")
public record InputQuantization(QuantSpec spec, Float scale) {

    public InputQuantization {
        Objects.requireNonNull(spec, "spec");
        if (scale != null && (spec.granularity() != Granularity.TENSOR || !(scale > 0) || scale.isInfinite())) {
            throw new IllegalArgumentException("a static input scale must be finite, > 0 and per tensor; found " + scale + " for " + spec);
        }
    }
}
