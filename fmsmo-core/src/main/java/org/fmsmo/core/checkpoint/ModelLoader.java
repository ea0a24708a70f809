package org.fmsmo.core.checkpoint;

import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.model.BlockDecoder;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.model.bert.BertModel;
import org.fmsmo.core.model.transformer.TransformerForCausalLM;
import org.fmsmo.core.model.transformer.TransformerStream;
import org.fmsmo.core.model.transformer.TransformerEncoder;
import org.fmsmo.api.arch.ArchitectureSpec;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.BertSpec;
import org.fmsmo.api.arch.ModelArchitectureProvider;
import org.fmsmo.core.plugin.RegisteredProvider;
import org.fmsmo.core.nn.Weights;
import org.fmsmo.core.plugin.PluginRegistry;

/**
 * Loads a Hugging Face model folder ({@code config.json}, safetensors weights, {@code tokenizer.json})
 * into the module tree of its architecture: the {@link ModelArchitectureProvider} of the caller's
 * registry that reads its {@code model_type} describes it, and the model package builds it. The folder is only read.
 * A quantized folder is decoded by the checkpoint format of its name ({@link CheckpointFormats#reader})
 * from the plugins the loader was made with: the caller's registry, the one its
 * {@code --plugins-dir} opened.
 */
public final class ModelLoader {

    private static final System.Logger LOG = System.getLogger(ModelLoader.class.getName());

    /** Stored tensors the forward pass does not need and that are expected in real checkpoints. */
    private static final List<String> KNOWN_UNUSED = List.of("pooler.", "bert.pooler.", "rotary_emb.inv_freq",
            "embeddings.position_ids", "cls.");

    /** The base-model prefixes of BERT-family checkpoints ({@code BertForMaskedLM}'s {@code bert.}). */
    private static final List<String> BERT_PREFIXES = List.of("bert.", "roberta.");

    /** The prefixes a checkpoint of {@code spec} may have or lack before its base model's names. */
    public static List<String> basePrefixes(ArchitectureSpec spec) {
        return switch (spec) {
            case TransformerSpec t -> org.fmsmo.core.model.transformer.TransformerTensors.basePrefixes(t);
            case BertSpec b -> BERT_PREFIXES;
        };
    }

    private final PluginRegistry plugins;

    /** @param plugins where quantized checkpoints' formats are found; not closed by the loader */
    public ModelLoader(PluginRegistry plugins) {
        this.plugins = java.util.Objects.requireNonNull(plugins, "plugins");
    }

    /**
     * The architecture provider that reads {@code config}'s {@code model_type}, from the loader's registry.
     *
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} naming the type and the installed ones
     */
    public ModelArchitectureProvider architecture(HfConfig config) {
        String type = config.modelType();
        for (RegisteredProvider<ModelArchitectureProvider> r : plugins.providers(ModelArchitectureProvider.class)) {
            if (r.provider().modelTypes().contains(type)) {
                return r.provider();
            }
        }
        throw new FmsmoException(ErrorCode.UNKNOWN_NAME, config.file() + ": model_type '" + type + "' is not supported; supported: "
                + String.join(", ", supportedModelTypes()) + " (run 'fmsmo plugins' to see the installed architectures)");
    }

    /** What {@code config} describes, by its architecture; the config's errors name their keys. */
    public ArchitectureSpec describe(HfConfig config) {
        return architecture(config).describe(config);
    }

    /** Whether a model of this config can be opened layer by layer ({@link #openStreamed}): every decoder. */
    public boolean streamable(HfConfig config) {
        return config.has("model_type") && supportedModelTypes().contains(config.modelType())
                && describe(config) instanceof TransformerSpec t && t.encoder() == null && storesFullNames(config, t);
    }

    /**
     * Whether the checkpoint stores the names the description gives (a head model's, with the
     * base-model prefix): the streamed path copies tensors through by name, so a bare model's
     * checkpoint is loaded whole instead.
     */
    private static boolean storesFullNames(HfConfig config, TransformerSpec t) {
        java.nio.file.Path dir = config.file().getParent();
        if (!Files.isRegularFile(dir.resolve("model.safetensors")) && !Files.isRegularFile(dir.resolve("model.safetensors.index.json"))) {
            return true; // the streamed path's own error names what is missing
        }
        try (SafetensorsModel checkpoint = SafetensorsModel.open(dir)) {
            return checkpoint.names().contains(t.names().of(TransformerSpec.Part.EMBEDDING) + ".weight");
        }
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
        if (!(describe(config) instanceof TransformerSpec spec) || spec.encoder() != null) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, config.file() + ": model_type '" + config.modelType()
                    + "' is not opened layer by layer; decoders are");
        }
        // The format is found once per stream, not per block: every block of a checkpoint has the same.
        CheckpointFormats.Reader reader = CheckpointFormats.reader(config, plugins);
        if (reader != null && reader.rewraps()) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, config.file() + ": a checkpoint in format '" + CheckpointFormats.formatName(config).orElseThrow()
                    + "' is not opened layer by layer: its quantizers are rebuilt on the whole model");
        }
        SafetensorsModel checkpoint = SafetensorsModel.open(dir);
        try {
            BlockDecoder decoder = reader == null ? BlockDecoder.NONE : (weights, prefix) -> {
                CheckpointFormats.RunTime runTime = reader.dequantizeInto(checkpoint, weights, prefix);
                return block -> runTime.applyTo(block, block.module());
            };
            return new TransformerStream(config, spec, checkpoint, maxTokens, decoder);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /**
     * Whether the folder's checkpoint format rebuilds quantizers on the built model ({@code fms}),
     * which is then loaded whole, never layer by layer.
     *
     * @throws FmsmoException {@link ErrorCode#UNSUPPORTED_SPEC} when no installed format has the folder's format name
     */
    public boolean rewraps(HfConfig config) {
        CheckpointFormats.Reader reader = CheckpointFormats.reader(config, plugins);
        return reader != null && reader.rewraps();
    }

    /** The registry this loader takes architectures and checkpoint formats from. */
    public PluginRegistry plugins() {
        return plugins;
    }

    /** The {@code model_type} values the registry's architectures read, sorted. */
    public Set<String> supportedModelTypes() {
        Set<String> types = new java.util.TreeSet<>();
        plugins.providers(ModelArchitectureProvider.class).forEach(r -> types.addAll(r.provider().modelTypes()));
        return types;
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
        ArchitectureSpec spec = describe(config);
        // Check the tokenizer first: a missing file should fail before gigabytes of weights are read.
        HfTokenizer tokenizer = withTokenizer ? HfTokenizer.open(dir) : null;
        NDManager manager = NDManager.newBaseManager();
        try (SafetensorsModel checkpoint = SafetensorsModel.open(dir)) {
            Weights weights = new Weights(checkpoint, manager, basePrefixes(spec));
            CheckpointFormats.Reader reader = CheckpointFormats.reader(config, plugins);
            CheckpointFormats.RunTime runTime = reader == null ? CheckpointFormats.RunTime.NONE : reader.dequantizeInto(checkpoint, weights, "");
            TransformerModel model = switch (spec) {
                case TransformerSpec d when d.encoder() == null -> new TransformerForCausalLM(config, d, weights);
                case TransformerSpec d -> new TransformerEncoder(config, d, weights);
                case BertSpec e -> new BertModel(config, e, weights);
            };
            model.assignPaths("");
            runTime.applyTo(model, model);
            if (reader != null) {
                reader.rewrap(model, checkpoint, freeze, plugins);
            }
            model.setTokenizer(tokenizer);
            Set<String> unexpected = weights.untaken().stream()
                    .filter(n -> KNOWN_UNUSED.stream().noneMatch(n::contains) && (reader == null || !reader.isStateTensor(n))).collect(Collectors.toCollection(java.util.TreeSet::new));
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
