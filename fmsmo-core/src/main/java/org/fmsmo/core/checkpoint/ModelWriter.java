package org.fmsmo.core.checkpoint;

import ai.djl.ndarray.NDArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.NativeMemory;

/**
 * Saves a model as a Hugging Face folder: its parameters under their checkpoint names (a tied
 * head is left out, as HF does), the original {@code config.json} (with {@code torch_dtype}
 * updated), and the companion files a loader or serving engine expects beside the weights
 * (tokenizer, generation config …) copied through. Written atomically; the source folder is
 * never written.
 */
public final class ModelWriter {

    /** Files copied from the source folder when present. */
    public static final List<String> COMPANION_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "generation_config.json", "vocab.txt", "merges.txt", "tokenizer.model", "added_tokens.json", "modules.json",
            "sentence_bert_config.json", "1_Pooling/config.json");

    private ModelWriter() {
    }

    /**
     * @param dtype         F32, F16 or BF16 (rounded to nearest even)
     * @param maxShardBytes shard size limit ({@code Long.MAX_VALUE} for one file)
     */
    public static Path save(TransformerModel model, Path output, Dtype dtype, long maxShardBytes) {
        if (dtype != Dtype.F32 && dtype != Dtype.F16 && dtype != Dtype.BF16) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "models are saved as F32, F16 or BF16, not " + dtype);
        }
        var config = model.config().json();
        config.put("torch_dtype", switch (dtype) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        });
        return write(model, output, name -> dtype, Map.of(), List.of(), config, Map.of(), maxShardBytes);
    }

    /**
     * Saves a model whose quantized layers a checkpoint format stores its own way.
     *
     * @param dtypeOf  the dtype each float parameter is stored in (the source checkpoint's)
     * @param replaced per parameter name ({@code L.weight}), the tensors stored instead of it
     * @param added    tensors stored beside the model's (quantizer state)
     * @param config   the {@code config.json} to write
     */
    public static Path save(TransformerModel model, Path output, Function<String, Dtype> dtypeOf, Map<String, List<TensorData>> replaced,
                            List<TensorData> added, ObjectNode config, Map<String, String> extraText) {
        return write(model, output, dtypeOf, replaced, added, config, extraText, Long.MAX_VALUE);
    }

    private static Path write(TransformerModel model, Path output, Function<String, Dtype> dtypeOf, Map<String, List<TensorData>> replaced,
                              List<TensorData> extraTensors, ObjectNode config, Map<String, String> extraText, long maxShardBytes) {
        Path source = model.dir().toAbsolutePath().normalize();
        if (output.toAbsolutePath().normalize().startsWith(source)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "output " + output + " is inside the source folder " + source
                    + "; inputs are never written");
        }
        List<TensorData> tensors = new ArrayList<>();
        java.util.Set<String> transposed = model.transposedParameters();
        for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
            List<TensorData> instead = replaced.get(e.getKey());
            if (instead != null) {
                tensors.addAll(instead);
                continue;
            }
            NDArray a = e.getValue();
            Dtype dtype = dtypeOf.apply(e.getKey());
            boolean flip = transposed.contains(e.getKey());
            long[] shape = flip ? new long[] {a.getShape().get(1), a.getShape().get(0)} : a.getShape().getShape();
            // One tensor's floats at a time, when the writer reaches it; straight from the engine's memory unless stored transposed
            tensors.add(flip ? new TensorData(e.getKey(), dtype, shape, ch -> TensorData.ofFloats(e.getKey(), dtype, shape,
                    TensorData.transpose(a.toFloatArray(), (int) shape[1], (int) shape[0])).source().writeTo(ch))
                    : NativeMemory.tensorData(e.getKey(), dtype, a));
        }
        tensors.addAll(extraTensors);
        Map<String, Path> copies = new LinkedHashMap<>();
        for (String f : COMPANION_FILES) {
            if (Files.isRegularFile(source.resolve(f))) {
                copies.put(f, source.resolve(f));
            }
        }
        Map<String, String> text = new LinkedHashMap<>(extraText);
        text.put("config.json", config.toPrettyString());
        return SafetensorsWriter.writeModel(output, tensors, Map.of("format", "pt"), maxShardBytes, copies, text);
    }
}
