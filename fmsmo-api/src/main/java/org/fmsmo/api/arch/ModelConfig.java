package org.fmsmo.api.arch;

import java.util.List;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.FmsmoException;

/**
 * A model folder's {@code config.json} as an architecture reads it. Every accessor checks what it
 * returns and fails with an {@link FmsmoException} that names the file and the key, so an
 * architecture can refuse what it cannot run in one line.
 */
@Experimental(since = "1.4")
public interface ModelConfig {

    /** {@code model_type}. */
    String modelType();

    /** Where the config came from, for messages. */
    String location();

    /** Whether the key is present and not null. */
    boolean has(String key);

    /** Whether the key is in the file at all, even as null (a feature turned off rather than left at its default). */
    boolean present(String key);

    /** An integer, {@code fallback} when absent or null. */
    int integer(String key, int fallback);

    /** A positive integer; required. */
    int positive(String key);

    /** A positive integer, {@code fallback} when absent or null. */
    int positive(String key, int fallback);

    /** A number strictly between {@code min} and {@code max}, {@code fallback} when absent or null. */
    double numberBetween(String key, double fallback, double min, double max);

    /** A boolean, {@code fallback} when absent or null. */
    boolean bool(String key, boolean fallback);

    /** A string, {@code fallback} when absent or null. */
    String string(String key, String fallback);

    /** A list of strings ({@code layer_types}); empty when absent or null. */
    List<String> strings(String key);

    /** A list of integers ({@code mlp_only_layers}); empty when absent or null. */
    List<Integer> integers(String key);

    /**
     * The rotary parameters, read in both forms: transformers 5's {@code rope_parameters} (flat, or
     * keyed by layer type as Gemma 3 writes it) and transformers 4's {@code rope_theta} +
     * {@code rope_scaling} + {@code partial_rotary_factor}.
     *
     * @param layerType {@code full_attention}, {@code sliding_attention}; used only where the
     *                  parameters are keyed by layer type
     * @param fallbackTheta θ when the config names none
     */
    RopeParameters rope(String layerType, double fallbackTheta);

    /** A malformed value: {@link org.fmsmo.api.ErrorCode#CORRUPT_INPUT} naming this config and {@code key}. */
    FmsmoException invalid(String key, String message);

    /** A well-formed value the host cannot run: {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} naming this config and {@code key}. */
    FmsmoException unsupported(String key, String message);
}
