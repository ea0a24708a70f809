package org.fmsmo.api.arch;

import java.util.Map;
import java.util.Objects;
import org.fmsmo.api.Experimental;

/**
 * Rotary position embedding as a config gives it. The host checks it when it reads the config,
 * refusing a {@code type} it does not implement, and turns it into frequencies
 * ({@link #inverseFrequencies}: {@code default}, {@code linear}, {@code llama3}), which exporters
 * use too, so that what they write rotates as the host's model does.
 *
 * @param type                {@code rope_type}
 * @param theta               the base θ
 * @param partialRotaryFactor the fraction of each head's dimensions that rotate (Phi-3: 0.75); 1 for all
 * @param scaling             the type's own numbers ({@code factor}, {@code low_freq_factor} …)
 */
@Experimental(since = "1.4")
public record RopeParameters(String type, double theta, double partialRotaryFactor, Map<String, Double> scaling) {

    public RopeParameters {
        Objects.requireNonNull(type, "type");
        scaling = Map.copyOf(scaling);
    }

    /**
     * The inverse frequencies of the {@code dim = ⌊headDim·partialRotaryFactor⌋} rotating
     * dimensions: transformers' default {@code 1/θ^(2i/dim)} in float32, then this type's scaling:
     * {@code linear} divides by {@code factor}; {@code llama3} (Llama 3.1) divides wavelengths
     * longer than {@code original_max_position_embeddings / low_freq_factor} by {@code factor},
     * keeps those shorter than {@code … / high_freq_factor}, and ramps smoothly between. The
     * numbers are taken as the host checked them; absent llama3 keys take transformers' defaults
     * (1, 4, 8192).
     *
     * @throws IllegalArgumentException for another type, or a scaling without its {@code factor}
     */
    public float[] inverseFrequencies(int headDim) {
        int dim = (int) (headDim * partialRotaryFactor);
        float[] f = new float[dim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (1.0 / Math.pow(theta, (float) (2 * i) / dim));
        }
        switch (type) {
            case "default" -> {
                // as computed
            }
            case "linear" -> {
                double factor = factor();
                for (int i = 0; i < f.length; i++) {
                    f[i] = (float) (f[i] / factor);
                }
            }
            case "llama3" -> {
                double factor = factor();
                double low = scaling.getOrDefault("low_freq_factor", 1.0);
                double high = scaling.getOrDefault("high_freq_factor", 4.0);
                double original = scaling.getOrDefault("original_max_position_embeddings", 8192.0);
                double lowWavelen = original / low;
                double highWavelen = original / high;
                for (int i = 0; i < f.length; i++) {
                    double wavelen = 2 * Math.PI / f[i];
                    if (wavelen > lowWavelen) {
                        f[i] = (float) (f[i] / factor);
                    } else if (wavelen >= highWavelen) {
                        double smooth = (original / wavelen - low) / (high - low);
                        f[i] = (float) ((1 - smooth) * f[i] / factor + smooth * f[i]);
                    }
                }
            }
            default -> throw new IllegalArgumentException("rope_type '" + type + "': expected default, linear or llama3");
        }
        return f;
    }

    private double factor() {
        Double factor = scaling.get("factor");
        if (factor == null) {
            throw new IllegalArgumentException("rope_type '" + type + "' needs its factor");
        }
        return factor;
    }
}
