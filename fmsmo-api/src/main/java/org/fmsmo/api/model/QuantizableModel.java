package org.fmsmo.api.model;

import ai.djl.ndarray.NDManager;
import java.util.List;
import org.fmsmo.api.Experimental;

/**
 * The view of a model that quantization methods and checkpoint formats work on: its linear
 * layers, found by name and swappable for wrappers. The model owns every array it returns
 * through {@link #manager()}. Not thread-safe.
 */
@Experimental(since = "1.0")
public interface QuantizableModel {

    /** The architecture name as in {@code config.json} ({@code LlamaForCausalLM}); never null. */
    String architecture();

    /** Every linear layer, in forward order, including ones already replaced by wrappers. */
    List<LinearLayer> linearLayers();

    /**
     * The linear layer with this module path.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNKNOWN_NAME} listing
     *         (some of) the known layer names
     */
    LinearLayer linear(String name);

    /**
     * Puts {@code replacement} where the layer called {@code name} was.
     *
     * @param replacement must have the same name and feature counts
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNKNOWN_NAME} or
     *         {@link org.fmsmo.api.ErrorCode#INVALID_ARGUMENT} for a mismatching layer
     */
    void replace(String name, LinearLayer replacement);

    /** The manager that owns the model's arrays; methods create long-lived arrays in it. */
    NDManager manager();

    /**
     * The quantized KV caches, one per attention module whose keys and values are quantized (the
     * run's {@code kv_cache_scheme}), in forward order; empty when none is.
     */
    @Experimental(since = "1.6")
    default List<org.fmsmo.api.quant.KvCacheScales> kvCache() {
        return List.of();
    }
}
