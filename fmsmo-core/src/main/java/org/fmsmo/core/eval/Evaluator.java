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
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.ModelLoader;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.model.TransformerModel;

/**
 * What {@code fmsmo eval} measures for one model folder: perplexity for a causal LM (over a text
 * file), embedding fidelity for an encoder (over one sentence per line, against a reference
 * model), plus size on disk and in memory and forward throughput. The result is an ordered map,
 * printed as JSON or as lines.
 */
public final class Evaluator {

    /**
     * @param reference  a second model folder to compare with, or null
     * @param seqLen     window for perplexity
     * @param batchSize  windows or sentences per forward pass
     * @param maxTokens  sentence length cap for encoders
     */
    /**
     * @param backend     run the frozen quantized layers on this deploy backend (null: simulated)
     * @param checkLayers also compare every backend layer with its simulated layer ({@link org.fmsmo.core.session.Deployment.LayerCheck})
     */
    public record Options(Path data, Path reference, int seqLen, int batchSize, int maxTokens, String backendName,
                          org.fmsmo.api.deploy.DeployBackend backend, boolean checkLayers) {
        public Options(Path data, Path reference, int seqLen, int batchSize, int maxTokens) {
            this(data, reference, seqLen, batchSize, maxTokens, null, null, false);
        }
    }

    private Evaluator() {
    }

    public static Map<String, Object> evaluate(Path modelDir, Options o, ProgressListener progress) {
        if (!Files.isDirectory(modelDir)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "model folder " + modelDir + " does not exist or is not a folder");
        }
        String text = readText(o.data());
        Map<String, Object> r = new LinkedHashMap<>();
        try (TransformerModel model = ModelLoader.load(modelDir)) {
            r.put("model", modelDir.toString());
            r.put("architecture", model.architecture());
            r.put("parameters", model.parameterCount());
            r.put("model_bytes", weightBytesOnDisk(modelDir));
            r.put("memory_bytes", model.parameterBytes());
            r.put("data", o.data().toString());
            org.fmsmo.core.session.Deployment.Result d = null;
            if (o.backend() != null) {
                d = org.fmsmo.core.session.Deployment.apply(model, o.backend(), o.checkLayers());
                r.put("backend", o.backendName());
                r.put("backend_layers", d.onBackend());
                r.put("simulated_layers", d.simulated());
            }
            switch (model) {
                case CausalLM lm -> {
                    Perplexity.Result p = Perplexity.evaluate(lm, lm.tokenizer().encode(text, false), o.seqLen(), o.batchSize(), progress);
                    r.put("perplexity", p.perplexity());
                    r.put("nll", p.nll());
                    r.put("seq_len", o.seqLen());
                    r.put("windows", p.windows());
                    r.put("tokens", p.tokens());
                    r.put("tokens_per_second", p.tokensPerSecond());
                    if (o.reference() != null) {
                        try (CausalLM refLm = loadReference(o.reference(), CausalLM.class, "a causal LM", modelDir)) {
                            r.put("reference_perplexity", Perplexity.evaluate(refLm, refLm.tokenizer().encode(text, false),
                                    o.seqLen(), o.batchSize(), progress).perplexity());
                        }
                    }
                }
                case SentenceEncoder enc -> {
                    List<String> sentences = text.lines().filter(l -> !l.isBlank()).toList();
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

    /** Loads the model to compare with, which must be of the same kind as the evaluated one. */
    private static <T extends TransformerModel> T loadReference(Path reference, Class<T> kind, String kindName, Path modelDir) {
        TransformerModel ref = ModelLoader.load(reference);
        if (!kind.isInstance(ref)) {
            ref.close();
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "reference " + reference + " is a " + ref.architecture()
                    + ", not " + kindName + " like " + modelDir);
        }
        return kind.cast(ref);
    }

    private static String readText(Path data) {
        try {
            return Files.readString(data);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "data file " + data + " does not exist");
        } catch (java.nio.charset.MalformedInputException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, data + " is not UTF-8 text");
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + data + ": " + e.getMessage(), e);
        }
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
