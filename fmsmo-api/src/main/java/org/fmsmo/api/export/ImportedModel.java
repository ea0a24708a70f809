package org.fmsmo.api.export;

import java.util.Map;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.format.StoredTensor;

/**
 * An exported file read back as a Hugging Face model folder: what the host writes as
 * {@code config.json}, {@code model.safetensors} and companion JSON files, and then loads.
 *
 * @param config    {@code config.json} as maps, lists, strings, numbers, booleans and nulls
 * @param tensors   by Hugging Face name, in order; F32 (or F16/BF16), in the checkpoint's layout
 * @param jsonFiles companion files ({@code tokenizer.json}) by file name, as {@code config}
 */
@Experimental(since = "1.5")
public record ImportedModel(Map<String, Object> config, Map<String, StoredTensor> tensors, Map<String, Map<String, Object>> jsonFiles) {

    public ImportedModel {
        config = Map.copyOf(config);
        tensors = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(tensors));
        jsonFiles = Map.copyOf(jsonFiles);
    }
}
