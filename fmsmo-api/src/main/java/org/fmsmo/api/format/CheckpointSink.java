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
     * Sets {@code config.json}'s {@code quantization_config}.
     *
     * @param config a JSON object as maps (insertion-ordered), lists, strings, numbers, booleans and nulls
     */
    void quantizationConfig(Map<String, Object> config);

    /** Writes a JSON file beside the weights ({@code quantize_config.json}); values as for {@link #quantizationConfig}. */
    void jsonFile(String name, Map<String, Object> content);
}
