package org.fmsmo.core.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.calibration.HiddenStates;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.checkpoint.CheckpointFormats;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.io.Checksums;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.io.TextFiles;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.model.TransformerModel;

/**
 * What {@code fmsmo eval} measures for one model folder: perplexity for a causal LM (over a text
 * file), embedding fidelity for an encoder (over one sentence per line, against a reference
 * model), plus size on disk and in memory and forward throughput. The result is an ordered map,
 * printed as JSON or as lines.
 */
public final class Evaluator {

    /**
     * @param reference   a second model folder to compare with, or null
     * @param seqLen      window for perplexity
     * @param batchSize   windows or sentences per forward pass
     * @param maxTokens   sentence length cap for encoders
     * @param backend     run the frozen quantized layers on this deploy backend (null: simulated)
     * @param checkLayers also compare every backend layer with its simulated layer ({@link org.fmsmo.core.deploy.Deployment.LayerCheck})
     * @param streaming   whether a causal LM is evaluated block by block ({@link Perplexity#evaluate(StreamedModel, long[], int, int,
     *                    HiddenStates.Offload, ProgressListener)}); AUTO streams a model whose FLOAT32 weights exceed the memory budget
     * @param verify      check the folders against their {@link Checksums#FILE} before loading them (default)
     * @param tokenLimit  causal LMs: at most this many tokens of the data file are evaluated ({@code Long.MAX_VALUE}: all)
     */
    public record Options(Path data, Path reference, int seqLen, int batchSize, int maxTokens, String backendName,
                          org.fmsmo.api.deploy.DeployBackend backend, boolean checkLayers, Streaming streaming, boolean verify, long tokenLimit) {
        public Options(Path data, Path reference, int seqLen, int batchSize, int maxTokens, String backendName,
                       org.fmsmo.api.deploy.DeployBackend backend, boolean checkLayers, Streaming streaming) {
            this(data, reference, seqLen, batchSize, maxTokens, backendName, backend, checkLayers, streaming, true, Long.MAX_VALUE);
        }

        public Options(Path data, Path reference, int seqLen, int batchSize, int maxTokens, Streaming streaming) {
            this(data, reference, seqLen, batchSize, maxTokens, null, null, false, streaming);
        }

        public Options(Path data, Path reference, int seqLen, int batchSize, int maxTokens) {
            this(data, reference, seqLen, batchSize, maxTokens, Streaming.AUTO);
        }

        /** These options, loading the folders without checking their checksums ({@code --no-verify}). */
        public Options withoutVerify() {
            return new Options(data, reference, seqLen, batchSize, maxTokens, backendName, backend, checkLayers, streaming, false, tokenLimit);
        }

        /** These options with another streaming mode. */
        public Options withStreaming(Streaming mode) {
            return new Options(data, reference, seqLen, batchSize, maxTokens, backendName, backend, checkLayers, mode, verify, tokenLimit);
        }

        /** These options, evaluating at most {@code tokens} tokens of a causal LM's data file. */
        public Options withTokenLimit(long tokens) {
            if (tokens <= 0) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "token limit " + tokens + ": expected a positive count");
            }
            return new Options(data, reference, seqLen, batchSize, maxTokens, backendName, backend, checkLayers, streaming, verify, tokens);
        }
    }

    private final ModelLoader loader;

    /** @param loader loads the models to evaluate (with the caller's plugins, for quantized checkpoints) */
    public Evaluator(ModelLoader loader) {
        this.loader = loader;
    }

    public Map<String, Object> evaluate(Path modelDir, Options o, ProgressListener progress) {
        if (Files.isRegularFile(modelDir)) {
            return evaluateExported(modelDir, o, progress);
        }
        if (!Files.isDirectory(modelDir)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "model folder " + modelDir + " does not exist or is not a folder");
        }
        if (o.verify()) { // quietly: a folder without SHA256SUMS (from the hub) is read as it is
            Checksums.verify(modelDir);
            if (o.reference() != null && Files.isDirectory(o.reference())) {
                Checksums.verify(o.reference());
            }
        }
        String whyNot = whyNotStreamed(modelDir, o);
        if (o.streaming() == Streaming.ON && whyNot != null) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cannot evaluate " + modelDir + " layer by layer: " + whyNot);
        }
        if (whyNot == null && (o.streaming() == Streaming.ON || overBudget(modelDir))) {
            return evaluateStreamed(modelDir, o, progress);
        }
        if (!Files.isRegularFile(o.data())) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "data file " + o.data() + " does not exist or is not a file");
        }
        Map<String, Object> r = new LinkedHashMap<>();
        try (TransformerModel model = loader.load(modelDir)) {
            r.put("model", modelDir.toString());
            r.put("architecture", model.architecture());
            r.put("parameters", model.parameterCount());
            r.put("model_bytes", weightBytesOnDisk(modelDir));
            r.put("memory_bytes", model.parameterBytes());
            r.put("data", o.data().toString());
            org.fmsmo.core.deploy.Deployment.Result d = null;
            if (o.backend() != null) {
                d = org.fmsmo.core.deploy.Deployment.apply(model, o.backend(), o.checkLayers());
                r.put("backend", o.backendName());
                r.put("backend_layers", d.onBackend());
                r.put("simulated_layers", d.simulated());
                if (d.matmulsOnBackend() + d.matmulsSimulated().size() > 0) {
                    r.put("backend_matmuls", d.matmulsOnBackend());
                    r.put("simulated_matmuls", d.matmulsSimulated());
                }
            }
            switch (model) {
                case CausalLM lm -> {
                    putPerplexity(r, Perplexity.evaluate(lm, tokens(lm.tokenizer(), o), o.seqLen(), o.batchSize(), progress), o);
                    if (o.reference() != null) {
                        try (CausalLM refLm = loadReference(o.reference(), CausalLM.class, "a causal LM", modelDir)) {
                            r.put("reference_perplexity", Perplexity.evaluate(refLm, tokens(refLm.tokenizer(), o),
                                    o.seqLen(), o.batchSize(), progress).perplexity());
                        }
                    }
                }
                case SentenceEncoder enc -> {
                    List<String> sentences = readText(o.data()).lines().filter(l -> !l.isBlank()).toList();
                    if (sentences.isEmpty()) {
                        throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, o.data() + " has no sentences (one per line expected)");
                    }
                    EmbeddingFidelity.Embeddings e = EmbeddingFidelity.embed(enc, sentences, o.batchSize(), o.maxTokens(), progress);
                    r.put("sentences", sentences.size());
                    r.put("tokens", e.tokens());
                    r.put("tokens_per_second", e.tokensPerSecond());
                    if (o.reference() != null) {
                        try (SentenceEncoder refEnc = loadReference(o.reference(), SentenceEncoder.class, "a sentence encoder", modelDir)) {
                            EmbeddingFidelity.Result c = EmbeddingFidelity.compare(e.vectors(),
                                    EmbeddingFidelity.embed(refEnc, sentences, o.batchSize(), o.maxTokens(), progress).vectors());
                            r.put("cosine", c.mean());
                            r.put("cosine_min", c.min());
                        }
                    }
                }
                default -> throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "no evaluation for " + model.architecture());
            }
            if (d != null && d.check() != null) {
                r.put("layer_check", d.check().summary());
            }
            if (o.backend() != null && !o.backend().diagnostics().isEmpty()) {
                r.put("backend_diagnostics", o.backend().diagnostics());
            }
        }
        return r;
    }

    /**
     * A one-file model another runtime runs (a {@code .gguf}): read by the export format of its
     * extension, dequantized into a temporary Hugging Face folder, evaluated there, and removed.
     */
    private Map<String, Object> evaluateExported(Path file, Options o, ProgressListener progress) {
        org.fmsmo.api.export.ExportFormat format = org.fmsmo.core.export.Exports.reader(file, loader.plugins()).orElseThrow(() -> new FmsmoException(
                ErrorCode.INVALID_ARGUMENT, "model " + file + " is a file; expected a model folder, or a file an installed export format reads (by extension: "
                        + loader.plugins().providers(org.fmsmo.api.export.ExportFormatProvider.class).stream().map(r -> "." + r.provider().create().extension()).toList() + ")"));
        Path tmp;
        try {
            tmp = Files.createTempDirectory("fmsmo-import-");
        } catch (java.io.IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot create a temporary folder to read " + file + " into: " + e.getMessage(), e);
        }
        try {
            Path dir = org.fmsmo.core.export.Exports.importTo(file, format, tmp.resolve("model"));
            Map<String, Object> r = evaluate(dir, o.withoutVerify(), progress);
            r.put("model", file.toString());
            r.put("model_bytes", file.toFile().length());
            r.put("read_as", format.extension());
            return r;
        } finally {
            org.fmsmo.core.io.OutputFiles.deleteTree(tmp);
        }
    }

    /** Null when the model can be evaluated block by block, else why not. */
    public String whyNotStreamed(Path modelDir, Options o) {
        if (o.streaming() == Streaming.OFF) {
            return "streaming is off";
        }
        if (o.backend() != null) {
            return "--backend runs the whole model";
        }
        if (!Files.isRegularFile(modelDir.resolve(HfConfig.FILE))) {
            return "there is no " + HfConfig.FILE; // the whole-model loader says so as an error
        }
        HfConfig config = HfConfig.read(modelDir);
        if (!loader.streamable(config)) {
            return "model_type '" + config.modelType() + "' is not streamed (decoders are)";
        }
        if (loader.rewraps(config)) {
            return "its quantizers are rebuilt on the whole model (format " + CheckpointFormats.formatName(config).orElseThrow() + ")";
        }
        return null;
    }

    /** Whether the model's FLOAT32 weights would exceed the memory budget when loaded whole. */
    private static boolean overBudget(Path modelDir) {
        try (SafetensorsModel ckpt = SafetensorsModel.open(modelDir)) {
            return 4 * ckpt.elementCount() > Streaming.defaultMemoryBudget();
        }
    }

    /** Perplexity with one block in memory at a time, the model's and the reference's. */
    private Map<String, Object> evaluateStreamed(Path modelDir, Options o, ProgressListener progress) {
        Map<String, Object> r = new LinkedHashMap<>();
        HfConfig config = HfConfig.read(modelDir);
        r.put("model", modelDir.toString());
        r.put("architecture", config.architecture(config.modelType()));
        r.put("streamed", true);
        r.put("model_bytes", weightBytesOnDisk(modelDir));
        r.put("data", o.data().toString());
        putPerplexity(r, streamedPerplexity(modelDir, o, progress), o);
        if (o.reference() != null) {
            String whyNot = whyNotStreamed(o.reference(), o);
            if (whyNot != null) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "reference " + o.reference() + " cannot be evaluated layer by layer like "
                        + modelDir + ": " + whyNot);
            }
            r.put("reference_perplexity", streamedPerplexity(o.reference(), o, progress).perplexity());
        }
        return r;
    }

    /** One streamed perplexity; its hidden states over 2 GB go to a temporary folder, removed at the end. */
    private Perplexity.Result streamedPerplexity(Path dir, Options o, ProgressListener progress) {
        long[] ids;
        try (HfTokenizer tokenizer = HfTokenizer.open(dir)) {
            ids = tokens(tokenizer, o); // before the offload folder: a bad data file leaves nothing behind
        }
        Path offload;
        try {
            offload = OutputFiles.writing(Files.createTempDirectory("fmsmo-eval-")); // removed on SIGINT too
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot create a temporary folder for hidden states: " + e.getMessage(), e);
        }
        try (StreamedModel model = loader.openStreamed(dir, o.seqLen())) {
            return Perplexity.evaluate(model, ids, o.seqLen(), o.batchSize(),
                    new HiddenStates.Offload(offload, HiddenStates.Offload.DEFAULT_BUDGET), progress);
        } finally {
            OutputFiles.deleteTree(offload);
        }
    }

    /** A perplexity result's entries, whole or streamed. */
    private static void putPerplexity(Map<String, Object> r, Perplexity.Result p, Options o) {
        r.put("perplexity", p.perplexity());
        r.put("nll", p.nll());
        r.put("seq_len", o.seqLen());
        r.put("windows", p.windows());
        r.put("tokens", p.tokens());
        r.put("tokens_per_second", p.tokensPerSecond());
    }

    /** Loads the model to compare with, which must be of the same kind as the evaluated one. */
    private <T extends TransformerModel> T loadReference(Path reference, Class<T> kind, String kindName, Path modelDir) {
        TransformerModel ref = loader.load(reference);
        if (!kind.isInstance(ref)) {
            ref.close();
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "reference " + reference + " is a " + ref.architecture()
                    + ", not " + kindName + " like " + modelDir);
        }
        return kind.cast(ref);
    }

    private static long[] tokens(HfTokenizer tokenizer, Options o) {
        return tokens(tokenizer, o.data(), o.tokenLimit());
    }

    /**
     * The first {@code limit} token ids of a text file, encoded piece by piece
     * ({@link HfTokenizer#encodeFile}): a huge line takes bounded memory.
     */
    public static long[] tokens(HfTokenizer tokenizer, Path data, long limit) {
        long[] ids = tokenizer.encodeFile(data, "data file", false, limit);
        // encodeFile stops after the piece that reaches the limit: cut to it exactly
        return ids.length > limit ? java.util.Arrays.copyOf(ids, (int) limit) : ids;
    }

    private static String readText(Path data) {
        return TextFiles.readUtf8(data, "data file");
    }

    /** Bytes of the weight files ({@code *.safetensors}) in a model folder. */
    public static long weightBytesOnDisk(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".safetensors")).mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (IOException e) {
                    throw new FmsmoException(ErrorCode.IO_ERROR, "cannot stat " + f + ": " + e.getMessage(), e);
                }
            }).sum();
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot list " + dir + ": " + e.getMessage(), e);
        }
    }
}
