package org.fmsmo.api.arch;

import java.util.Map;
import java.util.Objects;
import org.fmsmo.api.Experimental;

/**
 * Rotary position embedding as a config gives it. The host turns it into frequencies and refuses
 * a {@code type} it does not implement ({@code default}, {@code linear}, {@code llama3}).
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
}
