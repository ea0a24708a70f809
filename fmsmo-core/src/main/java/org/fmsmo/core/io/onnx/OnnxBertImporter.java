package org.fmsmo.core.io.onnx;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;

/**
 * Turns a BERT encoder exported to ONNX by PyTorch (HF/optimum style) back into a Hugging Face
 * folder: {@code config.json}, {@code model.safetensors}, the tokenizer and sentence-transformers'
 * pooling description. Named initializers keep their HF names; the linear weights, which the
 * exporter stores anonymously as MatMul operands {@code [in, out]}, are named after their node
 * ({@code /encoder/layer.0/attention/self/query/MatMul} → {@code encoder.layer.0.attention.self.query.weight})
 * and transposed to HF's {@code [out, in]}. The hyper-parameters that weights do not show (head
 * count, LayerNorm ε) are read from the graph's constants.
 */
public final class OnnxBertImporter {

    private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private OnnxBertImporter() {
    }

    /**
     * Everything is checked before the folder is written, so that {@code eval} loads what this
     * writes: the graph, the head count (given or read from the graph; it must divide the hidden
     * size and agree with the graph's attention scale), and the tokenizer (it must load, and its
     * ids must fall inside the embedding table).
     *
     * @param numHeads attention heads, or 0 to read them from the graph
     * @return {@code output}
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} when the graph is not a BERT encoder this importer understands
     */
    public static Path importModel(Path onnx, Path tokenizer, Path output, int numHeads) {
        if (numHeads < 0) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--num-heads " + numHeads + ": expected a positive head count (or none, to read it from the graph)");
        }
        if (!Files.isRegularFile(tokenizer)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "tokenizer " + tokenizer + " does not exist; pass the model's tokenizer.json");
        }
        if (Files.exists(output)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "output folder " + output + " already exists; choose a new one");
        }
        try (OnnxModel model = OnnxModel.open(onnx)) {
            Map<String, float[]> values = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            collectNamedWeights(model, values, shapes);
            collectMatMulWeights(model, values, shapes);
            ObjectNode config = config(model, shapes, numHeads);
            checkTokenizer(tokenizer, config.get("vocab_size").asLong());
            List<TensorData> tensors = new ArrayList<>();
            values.forEach((name, v) -> tensors.add(TensorData.ofFloats(name, Dtype.F32, shapes.get(name), v)));
            Map<String, String> texts = new LinkedHashMap<>();
            texts.put("config.json", JSON.writeValueAsString(config));
            texts.put("modules.json", SENTENCE_TRANSFORMER_MODULES);
            texts.put("1_Pooling/config.json", JSON.writeValueAsString(JSON.createObjectNode()
                    .put("word_embedding_dimension", config.get("hidden_size").asInt())
                    .put("pooling_mode_cls_token", false).put("pooling_mode_mean_tokens", true)
                    .put("pooling_mode_max_tokens", false).put("pooling_mode_mean_sqrt_len_tokens", false)));
            return SafetensorsWriter.writeModel(output, tensors, Map.of("format", "pt", "source", "fmsmo import-onnx " + onnx.getFileName()),
                    Long.MAX_VALUE, Map.of("tokenizer.json", tokenizer), texts);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new FmsmoException(ErrorCode.INTERNAL, "cannot write config.json: " + e.getMessage(), e);
        }
    }

    /** Initializers that already carry HF names ({@code embeddings.LayerNorm.weight}); the {@code bert.} prefix is dropped. */
    private static void collectNamedWeights(OnnxModel model, Map<String, float[]> values, Map<String, long[]> shapes) {
        for (OnnxTensor t : model.tensors().values()) {
            String name = t.name().startsWith("bert.") ? t.name().substring(5) : t.name();
            boolean hfName = (name.startsWith("embeddings.") || name.startsWith("encoder.") || name.startsWith("pooler."))
                    && (name.endsWith(".weight") || name.endsWith(".bias"));
            if (hfName) {
                values.put(name, t.floats());
                shapes.put(name, t.shape());
            }
        }
    }

    /** MatMul operands that are initializers: linear weights, named after the node. */
    private static void collectMatMulWeights(OnnxModel model, Map<String, float[]> values, Map<String, long[]> shapes) {
        for (OnnxModel.Node n : model.nodes()) {
            if (n.opType().equals("Gemm") && n.inputs().stream().anyMatch(model.tensors()::containsKey)) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, model.path() + ": node " + n.name()
                        + " is a Gemm with a constant weight; this importer reads MatMul + Add exports (PyTorch/optimum)");
            }
            if (!n.opType().equals("MatMul") || n.inputs().size() != 2 || !model.tensors().containsKey(n.inputs().get(1))) {
                continue;
            }
            String path = n.name().replaceFirst("^/", "").replaceFirst("/MatMul(_\\d+)?$", "").replace('/', '.');
            if (path.startsWith("bert.")) {
                path = path.substring(5);
            }
            OnnxTensor w = model.tensors().get(n.inputs().get(1));
            long[] s = w.shape();
            if (s.length != 2 || path.isEmpty() || n.name().isEmpty()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, model.path() + ": MatMul node '" + n.name() + "' has weight "
                        + w.name() + " of shape " + java.util.Arrays.toString(s) + "; expected a named node with a 2-D weight");
            }
            values.put(path + ".weight", org.fmsmo.core.io.safetensors.TensorData.transpose(w.floats(), (int) s[0], (int) s[1]));
            shapes.put(path + ".weight", new long[] {s[1], s[0]});
        }
    }

    private static ObjectNode config(OnnxModel model, Map<String, long[]> shapes, int numHeads) {
        long[] words = require(model, shapes, "embeddings.word_embeddings.weight");
        long[] positions = require(model, shapes, "embeddings.position_embeddings.weight");
        long[] types = require(model, shapes, "embeddings.token_type_embeddings.weight");
        TreeSet<Integer> layers = new TreeSet<>();
        for (String name : shapes.keySet()) {
            Matcher m = LAYER.matcher(name);
            if (m.find()) {
                layers.add(Integer.parseInt(m.group(1)));
            }
        }
        if (layers.isEmpty() || layers.last() != layers.size() - 1) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, model.path() + ": expected encoder layers 0..N-1, found " + layers);
        }
        long[] intermediate = require(model, shapes, "encoder.layer.0.intermediate.dense.weight");
        int hidden = (int) words[1];
        Integer fromGraph = headsFromGraph(model, hidden);
        if (numHeads > 0 && hidden % numHeads != 0) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--num-heads " + numHeads + " does not divide the hidden size " + hidden
                    + (fromGraph == null ? "" : "; the graph's attention scale says " + fromGraph + " heads"));
        }
        if (numHeads > 0 && fromGraph != null && numHeads != fromGraph) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--num-heads " + numHeads + " disagrees with the graph, whose attention scale 1/√"
                    + hidden / fromGraph + " means " + fromGraph + " heads of " + hidden / fromGraph);
        }
        if (numHeads == 0 && fromGraph == null) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, model.path() + ": cannot find the attention scale constant to infer the"
                    + " number of heads; pass --num-heads");
        }
        int heads = numHeads > 0 ? numHeads : fromGraph;
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("BertModel");
        c.put("model_type", "bert")
                .put("vocab_size", words[0]).put("hidden_size", hidden).put("num_hidden_layers", layers.size())
                .put("num_attention_heads", heads).put("intermediate_size", intermediate[0])
                .put("hidden_act", "gelu").put("max_position_embeddings", positions[0]).put("type_vocab_size", types[0])
                .put("layer_norm_eps", layerNormEps(model)).put("position_embedding_type", "absolute")
                .put("torch_dtype", "float32");
        return c;
    }

    private static long[] require(OnnxModel model, Map<String, long[]> shapes, String name) {
        long[] s = shapes.get(name);
        if (s == null) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, model.path() + ": no tensor '" + name + "'; expected a BERT encoder export");
        }
        return s;
    }

    /** The tokenizer must load and give ids inside the embedding table (a tokenizer of another model would not). */
    private static void checkTokenizer(Path tokenizer, long vocab) {
        try (org.fmsmo.core.hf.HfTokenizer t = org.fmsmo.core.hf.HfTokenizer.openFile(tokenizer)) {
            for (long id : t.encode("The quick brown fox jumps over the lazy dog, 1234567890.", true)) {
                if (id < 0 || id >= vocab) {
                    throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "tokenizer " + tokenizer + " gives token id " + id
                            + ", outside the model's " + vocab + " word embeddings; pass the tokenizer.json of this model");
                }
            }
        }
    }

    /** The attention scores are divided by √(head size): that constant gives the head count (null when not found). */
    private static Integer headsFromGraph(OnnxModel model, int hidden) {
        for (OnnxModel.Node n : model.nodes()) {
            if (n.name().startsWith("/encoder/layer.0/attention/self/") && n.opType().equals("Div") && n.inputs().size() == 2) {
                OnnxTensor c = model.tensors().get(n.inputs().get(1));
                if (c != null && c.shape().length == 0 && c.dataType() == OnnxTensor.FLOAT) {
                    long headDim = Math.round((double) c.floats()[0] * c.floats()[0]);
                    if (headDim > 0 && hidden % headDim == 0) {
                        return (int) (hidden / headDim);
                    }
                }
            }
        }
        return null;
    }

    /** ε is the scalar added to the variance in the decomposed LayerNorm; 1e-12 (BERT's) when not found. */
    private static double layerNormEps(OnnxModel model) {
        for (OnnxModel.Node n : model.nodes()) {
            if (n.name().startsWith("/embeddings/LayerNorm/") && n.opType().equals("Add")) {
                for (String in : n.inputs()) {
                    OnnxTensor c = model.tensors().get(in);
                    if (c != null && c.shape().length == 0 && c.dataType() == OnnxTensor.FLOAT) {
                        return Double.parseDouble(Float.toString(c.floats()[0])); // 1e-12, not 9.99999996e-13
                    }
                }
            }
        }
        return 1e-12;
    }

    private static final String SENTENCE_TRANSFORMER_MODULES = """
            [
              {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
              {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
              {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
            ]
            """;
}
