package org.fmsmo.api.format;

import java.util.Map;
import org.fmsmo.api.Experimental;

/**
 * Where a {@link CheckpointFormat} puts a quantized model; the host writes it. Every model tensor
 * that no {@link #replace} call took over is stored as the model holds it, in the dtype the
 * source checkpoint had.
 */
@Experimental(since = "1.0")
public interface CheckpointSink {

    /**
     * Stores {@code tensors} instead of layer {@code layer}'s float {@code .weight} (its bias, if
     * any, is kept).
     *
     * @param tensors by full stored name, in the order to write them
     */
    void replace(String layer, Map<String, StoredTensor> tensors);

    /**
     * Sets {@code config.json}'s {@code quantization_config}. A format that sets none (fmsmo's own,
     * {@code fms}) writes a folder that Hugging Face loaders read as a float model; the host still
     * finds its reader by the format name it records.
     *
     * @param config a JSON object as maps (insertion-ordered), lists, strings, numbers, booleans and nulls
     */
    void quantizationConfig(Map<String, Object> config);

    /**
     * Stores a tensor that is no model parameter (a quantizer's learned state, a smoothing scale)
     * beside the weights, under its own full name. A Hugging Face loader ignores such tensors.
     *
     * @throws IllegalArgumentException when the name is a model parameter's or was added before
     */
    @Experimental(since = "1.5")
    default void add(String name, StoredTensor tensor) {
        throw new UnsupportedOperationException(getClass().getName() + " keeps no tensors beside the model's");
    }

    /** Writes a JSON file beside the weights ({@code quantize_config.json}); values as for {@link #quantizationConfig}. */
    void jsonFile(String name, Map<String, Object> content);
}
