package org.fmsmo.core.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.regex.Pattern;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.core.analysis.QuantPlanner;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.checkpoint.CheckpointFormats;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.io.CachedResource;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.recipe.ConfigSchema;
import org.fmsmo.core.recipe.Recipes;

/**
 * Per-layer sensitivity: each linear layer (the output head excepted) is quantized alone, with
 * everything else in float, and the quantized model is evaluated on held-out text against the
 * float one: the perplexity's relative increase for a causal LM, {@code 1 − mean cosine} of the
 * sentence embeddings for an encoder. Ranked, this says which layers to keep at higher precision.
 * A decoder with a method that runs per block is measured block by block, one block in memory
 * ({@link StreamedSensitivity}), so any size fits; an encoder, or with {@link #streaming} off,
 * by a whole {@link Quantization} run per layer.
 *
 * <p>Resumable: after every layer the results so far are written (atomically) to the journal
 * file; a run given the same journal and the same settings continues after the layers it holds.
 * Offloaded hidden states and per-layer runs use a temporary folder beside the journal, removed
 * at the end.
 *
 * <pre>{@code
 * Sensitivity.Result r = Sensitivity.of(model).method("gptq").set(Map.of("qw_spec", "int4-sym-group128", "nbits_a", 32))
 *         .calibration(CalibrationSource.text(calib, 64, 128, 8)).evaluate(heldOut).journal(out.resolve("sensitivity.json"))
 *         .plugins(registry).run();
 * }</pre>
 */
public final class Sensitivity {

    /**
     * One layer's measurement.
     *
     * @param name       the layer
     * @param parameters its weight's element count
     * @param metric     the quantized model's perplexity, mean KL divergence from the float model, or mean cosine to it
     * @param loss       the relative perplexity increase, the KL divergence, or {@code 1 − cosine}: larger is more sensitive
     */
    public record Layer(String name, long parameters, double metric, double loss) {
    }

    /**
     * @param metric    {@code perplexity}, {@code kl} or {@code cosine}
     * @param reference the float model's perplexity (1 for cosine, 0 for kl)
     * @param layers    in model order
     */
    public record Result(String metric, double reference, List<Layer> layers) {

        /** Most sensitive first. */
        public List<Layer> ranked() {
            return layers.stream().sorted(Comparator.comparingDouble(Layer::loss).reversed()).toList();
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path model;
    private String method = "rtn";
    private String recipe = "ptq_int8";
    private final Map<String, Object> settings = new LinkedHashMap<>();
    private CalibrationSource calibration;
    private Path evalData;
    private Long evalTokens;
    private Path journal;
    private PluginRegistry plugins;
    private ProgressListener progress = ProgressListener.NONE;
    private Streaming streaming = Streaming.AUTO;
    private boolean kl;

    private Sensitivity(Path model) {
        this.model = Objects.requireNonNull(model, "model");
    }

    /** Sensitivity of the model folder {@code model}. */
    public static Sensitivity of(Path model) {
        return new Sensitivity(model);
    }

    public Sensitivity method(String name) {
        this.method = Objects.requireNonNull(name, "method");
        return this;
    }

    public Sensitivity recipe(String name) {
        this.recipe = Objects.requireNonNull(name, "recipe");
        return this;
    }

    /** Config overrides for every layer's run (the weight grid, the method's keys). */
    public Sensitivity set(Map<String, ?> overrides) {
        settings.putAll(overrides);
        return this;
    }

    public Sensitivity calibration(CalibrationSource source) {
        this.calibration = source;
        return this;
    }

    /** Held-out text; null: the evaluation's built-in sentences. */
    public Sensitivity evaluate(Path text) {
        this.evalData = text;
        return this;
    }

    public Sensitivity evaluationTokens(long tokens) {
        this.evalTokens = tokens;
        return this;
    }

    /** Where the results go, layer by layer; a journal of the same run is continued. */
    public Sensitivity journal(Path file) {
        this.journal = file;
        return this;
    }

    public Sensitivity plugins(PluginRegistry registry) {
        this.plugins = registry;
        return this;
    }

    /**
     * Ranks by the mean KL divergence of the next-token distributions from the float model's
     * (nats per token) instead of the perplexity: decoders measured block by block only. Small
     * losses (4-bit GPTQ) move a perplexity by less than its noise; the divergence still orders them.
     */
    public Sensitivity klDivergence(boolean on) {
        this.kl = on;
        return this;
    }

    /** {@link Streaming#OFF}: every layer by a whole {@link Quantization} run, also for a decoder (default: block by block where possible). */
    public Sensitivity streaming(Streaming mode) {
        this.streaming = Objects.requireNonNull(mode, "mode");
        return this;
    }

    public Sensitivity progress(ProgressListener listener) {
        this.progress = Objects.requireNonNull(listener, "progress");
        return this;
    }

    /**
     * Measures every layer not yet in the journal.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} for a journal of another run, or
     *         whatever a layer's {@link Quantization} refuses (checked on the first layer, before the rest)
     * @throws CancellationException when cancelled through the progress listener (the journal keeps what was done)
     */
    public Result run() {
        Objects.requireNonNull(plugins, "plugins");
        Objects.requireNonNull(journal, "journal");
        Map<String, Object> key = key();
        JsonNode saved = null;
        if (Files.exists(journal)) { // refuse another run's journal before any work
            saved = read(journal);
            if (!JSON.valueToTree(key).equals(saved.get("run"))) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "sensitivity journal " + journal + " is of another run (model, method, settings, "
                        + "calibration or held-out text differ); delete it or choose another output file");
            }
        }
        if (evalData != null && !Files.isRegularFile(evalData)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "held-out text " + evalData + " does not exist or is not a file");
        }
        Path work;
        try {
            work = OutputFiles.writing(Files.createTempDirectory(journal.toAbsolutePath().getParent(), ".sensitivity-"));
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot create a work folder beside " + journal + ": " + e.getMessage(), e);
        }
        try (StreamedSensitivity streamed = streamed(work)) {
            if (kl && streamed == null) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "the KL divergence is measured on decoders block by block, with a method"
                        + " that runs per block; " + model + " with " + method + " is measured by whole runs (use the perplexity or cosine)");
            }
            Map<String, Long> layers = streamed != null ? streamed.layers() : layers();
            Map<String, Layer> done = new LinkedHashMap<>();
            String[] metric = {saved == null ? null : saved.get("metric").asText()};
            double[] reference = {saved == null ? Double.NaN : saved.get("reference").asDouble()};
            if (saved != null) {
                for (Layer l : layers(saved)) {
                    done.put(l.name(), l);
                }
            }
            if (streamed != null) {
                metric[0] = kl ? "kl" : "perplexity";
                reference[0] = kl ? 0 : streamed.referencePerplexity();
            }
            java.util.function.Consumer<Layer> record = l -> {
                done.put(l.name(), l);
                write(key, metric[0], reference[0], layers, done);
                progress.advance(1);
            };
            java.util.Set<String> pending = new java.util.LinkedHashSet<>(layers.keySet());
            pending.removeAll(done.keySet());
            progress.begin("sensitivity", layers.size(), "layers");
            try {
                progress.advance(done.size());
                if (streamed != null) {
                    streamed.measure(pending, (name, m) -> record.accept(kl ? new Layer(name, layers.get(name), m.kl(), m.kl())
                            : new Layer(name, layers.get(name), m.perplexity(), m.perplexity() / reference[0] - 1)), progress);
                } else {
                    for (String name : pending) {
                        if (progress.isCancelled()) {
                            throw new CancellationException("sensitivity cancelled before layer " + name);
                        }
                        progress.item(name);
                        Map<String, Object> eval = quantizeAlone(name, work);
                        // a whole run reports the float model's number beside the quantized one's
                        if (eval.containsKey("perplexity")) {
                            metric[0] = "perplexity";
                            reference[0] = ((Number) eval.get("reference_perplexity")).doubleValue();
                            double ppl = ((Number) eval.get("perplexity")).doubleValue();
                            record.accept(new Layer(name, layers.get(name), ppl, ppl / reference[0] - 1));
                        } else {
                            metric[0] = "cosine";
                            reference[0] = 1;
                            double cos = ((Number) eval.get("cosine")).doubleValue();
                            record.accept(new Layer(name, layers.get(name), cos, 1 - cos));
                        }
                    }
                }
            } finally {
                progress.end();
            }
            return new Result(metric[0], reference[0], layers.keySet().stream().map(done::get).toList());
        } finally {
            OutputFiles.deleteTree(work);
        }
    }

    /**
     * The block-by-block measurement for a decoder and a method that runs per block (null for any
     * other model or method, or with {@link #streaming} off: then each layer is a whole {@link Quantization} run).
     */
    private StreamedSensitivity streamed(Path work) {
        if (streaming == Streaming.OFF || !Files.isRegularFile(model.resolve(HfConfig.FILE))) {
            return null;
        }
        HfConfig hf = HfConfig.read(model);
        ModelLoader loader = new ModelLoader(plugins);
        QuantMethod m = plugins.get(QuantMethodProvider.class, method).create();
        if (!loader.streamable(hf) || !m.perBlock() || CheckpointFormats.formatName(hf).isPresent()) {
            return null;
        }
        CalibrationData data;
        long[] ids;
        try (HfTokenizer tok = HfTokenizer.open(model)) {
            data = calibration == null ? null : calibration.load(hf.positive("vocab_size"), () -> tok, false);
            Path text = evalData != null ? evalData : CachedResource.file(org.fmsmo.core.eval.Evaluator.class, "held-out.txt", "held-out.txt");
            ids = org.fmsmo.core.eval.Evaluator.tokens(tok, text, evalTokens == null ? Long.MAX_VALUE : evalTokens);
        }
        QuantConfig cfg = Recipes.qconfigInit(recipe, settings, ConfigSchema.of(plugins));
        int tokens = Math.max(Quantization.EVAL_WINDOW, Math.max(StreamedRun.TRACE_TOKENS, data == null ? 0 : data.maxTokens()));
        StreamedModel sm = loader.openStreamed(model, tokens);
        try {
            return new StreamedSensitivity(sm, m, cfg, plugins, data, ids, work, progress);
        } catch (RuntimeException e) {
            sm.close();
            throw e;
        }
    }

    /**
     * A finished or partial ranking as a journal holds it, with the weight bits it was measured at
     * ({@code nbits_w} of its settings).
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} for a file that is not a sensitivity journal
     */
    public static Saved load(Path journal) {
        JsonNode j = read(journal);
        JsonNode bits = j.get("run").path("settings").path("nbits_w");
        if (!bits.canConvertToInt()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "sensitivity journal " + journal + ": its settings name no nbits_w");
        }
        return new Saved(new Result(j.get("metric").asText(), j.get("reference").asDouble(), layers(j)), bits.asInt(),
                j.get("run").path("method").asText("?"));
    }

    /** A loaded journal: the ranking, the weight bits and the method it was measured with. */
    public record Saved(Result result, int bits, String method) {
    }

    /** The linear layers but the output head, in model order, with their weights' element counts. */
    private Map<String, Long> layers() {
        try (TransformerModel m = new ModelLoader(plugins).load(model, false)) {
            java.util.Set<String> heads = QuantPlanner.outputHeads(m);
            Map<String, Long> out = new LinkedHashMap<>();
            for (LinearLayer l : m.linearLayers()) {
                if (!heads.contains(l.name())) {
                    out.put(l.name(), l.inFeatures() * l.outFeatures());
                }
            }
            return out;
        }
    }

    /** One layer quantized, the rest in float, by a whole run written under {@code work}, evaluated against the float model. */
    private Map<String, Object> quantizeAlone(String layer, Path work) {
        Path out = work.resolve("model");
        try {
            Map<String, Object> s = new LinkedHashMap<>(settings);
            s.put("qlayer_name_pattern", List.of("^" + Pattern.quote(layer) + "$"));
            Quantization q = Quantization.of(model).method(method).recipe(recipe).set(s).format("fms").output(out).force(true)
                    .plugins(plugins).evaluate(evalData);
            if (evalTokens != null) {
                q.evaluationTokens(evalTokens);
            }
            if (calibration != null) {
                q.calibration(calibration);
            }
            return q.run().evaluation();
        } finally {
            OutputFiles.deleteTree(out);
        }
    }

    /** What makes two runs the same: a journal is continued only under the same key. */
    private Map<String, Object> key() {
        Map<String, Object> k = new LinkedHashMap<>();
        k.put("model", model.toAbsolutePath().normalize().toString());
        k.put("method", method);
        k.put("recipe", recipe);
        k.put("settings", new TreeMap<>(settings));
        k.put("calibration", calibration == null ? null : calibration.toString());
        k.put("eval_data", evalData == null ? null : evalData.toAbsolutePath().normalize().toString());
        k.put("eval_tokens", evalTokens);
        if (kl) {
            k.put("metric", "kl");
        }
        return k;
    }

    /** The measured layers a journal holds, in model order. */
    private static List<Layer> layers(JsonNode journal) {
        List<Layer> layers = new ArrayList<>();
        for (JsonNode l : journal.get("layers")) {
            layers.add(new Layer(l.get("name").asText(), l.get("parameters").asLong(), l.get("metric").asDouble(), l.get("loss").asDouble()));
        }
        return layers;
    }

    private static JsonNode read(Path journal) {
        try {
            JsonNode j = JSON.readTree(journal.toFile());
            if (j == null || !j.has("run") || !j.has("metric") || !j.has("reference") || !j.get("layers").isArray()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "sensitivity journal " + journal + ": expected run, metric, reference and layers");
            }
            return j;
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "sensitivity journal " + journal + " is not readable JSON: " + e.getMessage(), e);
        }
    }

    private void write(Map<String, Object> key, String metric, double reference, Map<String, Long> order, Map<String, Layer> done) {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("run", key);
        j.put("metric", metric);
        j.put("reference", reference);
        List<Map<String, Object>> list = new ArrayList<>();
        for (String name : order.keySet()) {
            Layer l = done.get(name);
            if (l != null) {
                list.add(Map.of("name", l.name(), "parameters", l.parameters(), "metric", l.metric(), "loss", l.loss()));
            }
        }
        j.put("layers", list);
        try {
            OutputFiles.writeString(journal, JSON.writeValueAsString(j));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
