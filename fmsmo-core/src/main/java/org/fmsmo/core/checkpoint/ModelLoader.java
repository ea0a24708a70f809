package org.fmsmo.core.checkpoint;

import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.stream.Collectors;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.format.InputQuantization;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.model.BlockDecoder;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.model.bert.BertModel;
import org.fmsmo.core.model.llama.LlamaForCausalLM;
import org.fmsmo.core.model.llama.LlamaStream;
import org.fmsmo.core.nn.Weights;
import org.fmsmo.core.plugin.PluginRegistry;

/**
 * Loads a Hugging Face model folder ({@code config.json}, safetensors weights, {@code tokenizer.json})
 * into the module tree of its architecture, chosen by {@code model_type}. The folder is only read.
 * A quantized folder is decoded by the checkpoint format of its name ({@link CheckpointFormats#reader})
 * from the plugins the loader was made with: the caller's registry, the one its
 * {@code --plugins-dir} opened.
 */
public final class ModelLoader {

    private static final System.Logger LOG = System.getLogger(ModelLoader.class.getName());

    /** Architectures by {@code model_type}. */
    private static final Map<String, BiFunction<HfConfig, Weights, TransformerModel>> ARCHITECTURES = new TreeMap<>(Map.of(
            "llama", LlamaForCausalLM::new,
            "qwen2", LlamaForCausalLM::new,
            "mistral", LlamaForCausalLM::new, // without a sliding window (LlamaConfig refuses one)
            "bert", BertModel::new));

    /** Stored tensors the forward pass does not need and that are expected in real checkpoints. */
    private static final List<String> KNOWN_UNUSED = List.of("pooler.", "bert.pooler.", "rotary_emb.inv_freq",
            "embeddings.position_ids", "cls.");

    private final PluginRegistry plugins;

    /** @param plugins where quantized checkpoints' formats are found; not closed by the loader */
    public ModelLoader(PluginRegistry plugins) {
        this.plugins = java.util.Objects.requireNonNull(plugins, "plugins");
    }

    /** Whether a model of this config can be opened layer by layer ({@link #openStreamed}): the Llama family. */
    public static boolean streamable(HfConfig config) {
        return List.of("llama", "qwen2", "mistral").contains(config.has("model_type") ? config.modelType() : "");
    }

    /**
     * Opens a model folder for layer-by-layer work: weights stay mapped, nothing is converted yet.
     *
     * @param maxTokens the longest sequence that will be run
     * @throws FmsmoException {@link ErrorCode#UNSUPPORTED_SPEC} when the architecture is not {@link #streamable}
     */
    public StreamedModel openStreamed(Path dir, int maxTokens) {
        if (!Files.isDirectory(dir)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "model folder " + dir + " does not exist or is not a folder");
        }
        HfConfig config = HfConfig.read(dir);
        if (!streamable(config)) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, config.file() + ": model_type '" + config.modelType()
                    + "' is not opened layer by layer; streamed: llama, qwen2, mistral");
        }
        // The format is found once per stream, not per block: every block of a checkpoint has the same.
        CheckpointFormats.Reader reader = CheckpointFormats.reader(config, plugins);
        SafetensorsModel checkpoint = SafetensorsModel.open(dir);
        try {
            BlockDecoder decoder = reader == null ? BlockDecoder.NONE : (weights, prefix) -> {
                Map<String, InputQuantization> inputs = reader.dequantizeInto(checkpoint, weights, prefix);
                return block -> CheckpointFormats.quantizeInputs(block, inputs);
            };
            return new LlamaStream(config, checkpoint, maxTokens, decoder);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /** The supported {@code model_type} values. */
    public static Set<String> supportedModelTypes() {
        return ARCHITECTURES.keySet();
    }

    /** Loads a model with its tokenizer, in a manager of its own (closed with the model). */
    public TransformerModel load(Path dir) {
        return load(dir, true);
    }

    /**
     * Loads a model.
     *
     * @param withTokenizer also load {@code tokenizer.json} (required then)
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} for an unsupported {@code model_type};
     *         {@link ErrorCode#CORRUPT_INPUT} for a missing or malformed file, tensor or key
     */
    public TransformerModel load(Path dir, boolean withTokenizer) {
        return load(dir, withTokenizer, true);
    }

    /**
     * Loads a model to go on training: a native checkpoint's linear wrappers keep their learned
     * quantizer state but are not frozen.
     */
    public TransformerModel loadForTraining(Path dir) {
        return load(dir, true, false);
    }

    private TransformerModel load(Path dir, boolean withTokenizer, boolean freeze) {
        if (!Files.isDirectory(dir)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "model folder " + dir + " does not exist or is not a folder");
        }
        HfConfig config = HfConfig.read(dir);
        String type = config.modelType();
        BiFunction<HfConfig, Weights, TransformerModel> factory = ARCHITECTURES.get(type);
        if (factory == null) {
            throw new FmsmoException(ErrorCode.UNKNOWN_NAME, config.file() + ": model_type '" + type + "' is not supported; supported: "
                    + String.join(", ", ARCHITECTURES.keySet()));
        }
        // Check the tokenizer first: a missing file should fail before gigabytes of weights are read.
        HfTokenizer tokenizer = withTokenizer ? HfTokenizer.open(dir) : null;
        NDManager manager = NDManager.newBaseManager();
        try (SafetensorsModel checkpoint = SafetensorsModel.open(dir)) {
            Weights weights = new Weights(checkpoint, manager, List.of("bert."));
            Map<String, InputQuantization> inputs = CheckpointFormats.dequantizeInto(config, checkpoint, weights, "", plugins);
            TransformerModel model = factory.apply(config, weights);
            model.assignPaths("");
            CheckpointFormats.quantizeInputs(model, inputs);
            if (NativeCheckpoint.isNative(dir)) {
                NativeCheckpoint.restore(model, checkpoint, freeze, plugins);
            }
            model.setTokenizer(tokenizer);
            Set<String> unexpected = weights.untaken().stream()
                    .filter(n -> KNOWN_UNUSED.stream().noneMatch(n::contains) && !NativeCheckpoint.isStateTensor(n)).collect(Collectors.toCollection(java.util.TreeSet::new));
            if (!unexpected.isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "{0}: {1} stored tensors are not used by {2}: {3}", dir, unexpected.size(), type,
                        unexpected.stream().limit(10).toList());
            }
            return model;
        } catch (RuntimeException e) {
            manager.close();
            if (tokenizer != null) {
                tokenizer.close();
            }
            throw e;
        }
    }
}
