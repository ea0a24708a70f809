package org.fmsmo.core.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fmsmo.api.format.CheckpointSink;
import org.fmsmo.api.format.StoredTensor;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.TensorData;

/**
 * What a {@link org.fmsmo.api.format.CheckpointFormat} said while writing: the tensors that
 * replace each layer's float weight, tensors beside the model's, the {@code quantization_config},
 * and extra JSON files. The
 * host writes them, whole ({@link CheckpointFormats#write}) or part by part (a streamed run).
 */
public final class FormatSink implements CheckpointSink {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, Map<String, StoredTensor>> replaced = new LinkedHashMap<>();
    private final Map<String, StoredTensor> added = new LinkedHashMap<>();
    private final Map<String, String> text = new LinkedHashMap<>();
    private Map<String, Object> quantizationConfig;

    @Override
    public void replace(String layer, Map<String, StoredTensor> tensors) {
        if (replaced.put(layer, new LinkedHashMap<>(tensors)) != null) {
            throw new IllegalStateException("layer " + layer + " was replaced twice");
        }
    }

    @Override
    public void add(String name, StoredTensor tensor) {
        if (added.put(name, tensor) != null) {
            throw new IllegalArgumentException("tensor " + name + " was added twice");
        }
    }

    @Override
    public void quantizationConfig(Map<String, Object> config) {
        this.quantizationConfig = config;
    }

    @Override
    public void jsonFile(String name, Map<String, Object> content) {
        if (name.equals("config.json") || name.contains("..") || name.contains("/") || !name.endsWith(".json")) {
            throw new IllegalArgumentException("a format may write JSON files beside the weights, not " + name);
        }
        text.put(name, JSON.valueToTree(content).toPrettyString());
    }

    /** The tensors replacing each layer (by layer name), in the order the format gave them. */
    public Map<String, Map<String, StoredTensor>> replaced() {
        return replaced;
    }

    /**
     * The tensors added beside the model's since the last call, in the order given; taking them
     * clears them, so a streamed run writes each block's with that block.
     */
    public java.util.List<TensorData> takeAdded() {
        java.util.List<TensorData> out = new java.util.ArrayList<>();
        added.forEach((n, t) -> out.add(tensorData(n, t)));
        added.clear();
        return out;
    }

    /** Extra JSON files by name. */
    public Map<String, String> text() {
        return text;
    }

    /** Null until the format set it. */
    public Map<String, Object> quantizationConfig() {
        return quantizationConfig;
    }

    /** A format's stored tensor as the safetensors writer takes it. */
    public static TensorData tensorData(String name, StoredTensor t) {
        ByteBuffer b = t.bytes();
        byte[] raw = new byte[b.remaining()];
        b.get(raw);
        return TensorData.ofBytes(name, Dtype.parse(t.dtype(), name), t.shape(), raw);
    }
}
