package org.fmsmo.api.quant;

import java.util.Objects;
import org.fmsmo.api.Experimental;

/**
 * One attention module's quantized KV cache: keys and values each on the grid of {@code spec}
 * (FP8 e4m3, one static scale per tensor) with their dequantization scales, as serving engines
 * read them (compressed-tensors' {@code kv_cache_scheme} with {@code k_scale} / {@code v_scale}).
 *
 * @param attention  the attention module's path ({@code model.layers.0.self_attn})
 * @param spec       the keys' and values' spec
 * @param keyScale   {@code k = code · keyScale}; positive
 * @param valueScale {@code v = code · valueScale}; positive
 */
@Experimental(since = "1.6")
public record KvCacheScales(String attention, QuantSpec spec, float keyScale, float valueScale) {

    /** Validates. */
    public KvCacheScales {
        Objects.requireNonNull(attention, "attention");
        Objects.requireNonNull(spec, "spec");
        if (!(keyScale > 0) || !(valueScale > 0) || !Float.isFinite(keyScale) || !Float.isFinite(valueScale)) {
            throw new IllegalArgumentException("KV-cache scales of " + attention + " must be positive and finite, found " + keyScale + " and " + valueScale);
        }
    }
}
