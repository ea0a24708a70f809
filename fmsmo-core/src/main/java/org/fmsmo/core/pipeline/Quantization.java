package org.fmsmo.core.pipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.format.CheckpointFormat;
import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.core.analysis.ModelAnalyzer;
import org.fmsmo.core.analysis.QuantPlanner;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.calibration.HiddenStates;
import org.fmsmo.core.checkpoint.CheckpointFormats;
import org.fmsmo.core.io.CachedResource;
import org.fmsmo.core.checkpoint.FmsFormat;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.context.DefaultQuantContext;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.io.Checksums;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.io.OutputFolder;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.recipe.ConfigSchema;
import org.fmsmo.core.recipe.Recipes;
import org.fmsmo.core.training.Training;

/**
 * One quantization run, from a model folder to a written checkpoint: the pipeline that the CLI,
 * the tests and embedding applications share.
 *
 * <pre>{@code
 * QuantizationResult r = Quantization.of(Path.of("Llama-3.2-1B"))
 *         .method("gptq").set("qw_spec", "int4-sym-group128").set("nbits_a", 32)
 *         .calibration(CalibrationSource.text(Path.of("calib.txt"), 128, 2048, 8))
 *         .format("compressed-tensors").output(Path.of("Llama-3.2-1B-W4A16"))
 *         .run();
 * }</pre>
 *
 * <p>Stages: the recipe and overrides become the config; the analyzer plans; the method plugin
 * wraps, calibrates and freezes; the format writes. A decoder quantized by a method
 * that works block by block into a format that can be written part by part is <em>streamed</em>:
 * weights stay mapped and one decoder block at a time is in memory ({@link StreamedRun}). Other
 * runs (training, encoders, the native format) load the whole model, which must then fit in the
 * memory budget. Not thread-safe; a builder is used for one run.
 */
public final class Quantization {

    /** Tokens per window of the held-out perplexity (windows of this many per forward pass: {@link #EVAL_BATCH}). */
    static final int EVAL_WINDOW = 128;
    static final int EVAL_BATCH = 8;

    /** The output format that keeps float weights with the quantizers' state (reloads without calibrating). */
    public static final String NATIVE_FORMAT = FmsFormat.NAME;

    private final Path model;
    private String method;
    private String recipe;
    private QuantConfig config;
    private final Map<String, Object> overrides = new LinkedHashMap<>();
    private CalibrationSource calibration;
    /** Calibration windows a training run takes from its training text when given no calibration source (the CLI's --num-samples default). */
    static final int TRAINING_CALIBRATION_SAMPLES = 64;
    private TrainingSetup training;
    private String format = NATIVE_FORMAT;
    private Path output;
    private boolean force;
    private boolean verifyInput = true;
    private PluginRegistry registry;
    private ProgressListener progress = ProgressListener.NONE;
    private Streaming streaming = Streaming.AUTO;
    private long maxShardBytes = 5_000_000_000L;
    private long memoryBudget = Streaming.defaultMemoryBudget();
    private boolean evaluate;
    private Path heldOut;
    private long evalTokens = Long.MAX_VALUE;
    private Path offloadDir;
    private long offloadOver = DEFAULT_OFFLOAD_OVER;

    /** Calibration hidden states a streamed run keeps in memory before it offloads the rest to files (2 GB). */
    public static final long DEFAULT_OFFLOAD_OVER = HiddenStates.Offload.DEFAULT_BUDGET;

    private Quantization(Path model) {
        this.model = Objects.requireNonNull(model, "model");
    }

    /** A run on a Hugging Face model folder (only read). */
    public static Quantization of(Path model) {
        return new Quantization(model);
    }

    /** The method plugin's name ({@code gptq}, {@code rtn}, {@code fp8}, {@code ptq}, {@code dq}, {@code qat} …); required. */
    public Quantization method(String name) {
        this.method = name;
        return this;
    }

    /** A built-in recipe or a recipe {@code .json} file (default {@code ptq_int8}); overrides apply on top. */
    public Quantization recipe(String nameOrFile) {
        this.recipe = nameOrFile;
        return this;
    }

    /** A complete config instead of a recipe; overrides still apply on top. */
    public Quantization config(QuantConfig config) {
        this.config = config;
        return this;
    }

    /** One config key over the recipe (checked against the schema when the run starts). */
    public Quantization set(String key, Object value) {
        overrides.put(key, value);
        return this;
    }

    /** Config keys over the recipe. */
    public Quantization set(Map<String, ?> values) {
        overrides.putAll(values);
        return this;
    }

    /** Calibration examples; without them a training run calibrates on the first windows of its training text. */
    public Quantization calibration(CalibrationSource source) {
        this.calibration = source;
        return this;
    }

    /** Training data for a training method. */
    public Quantization training(TrainingSetup setup) {
        this.training = setup;
        return this;
    }

    /** A checkpoint format plugin's name, or {@value #NATIVE_FORMAT} (the default). */
    public Quantization format(String name) {
        this.format = name;
        return this;
    }

    /** The output folder; required. It must not exist or be empty, unless {@link #force}. */
    public Quantization output(Path dir) {
        this.output = dir;
        return this;
    }

    /** Replace an existing output folder (the new one is swapped in only when complete). */
    public Quantization force(boolean replace) {
        this.force = replace;
        return this;
    }

    /**
     * Whether an input folder with a {@link Checksums#FILE} (one fmsmo wrote) is checked against it
     * before the run (default true; the CLI's {@code --no-verify} turns it off).
     */
    public Quantization verifyInput(boolean verify) {
        this.verifyInput = verify;
        return this;
    }

    /** The plugins to use; default {@link PluginRegistry#standard} without a plugins folder, opened and closed by the run. */
    public Quantization plugins(PluginRegistry plugins) {
        this.registry = plugins;
        return this;
    }

    public Quantization progress(ProgressListener listener) {
        this.progress = Objects.requireNonNull(listener, "listener");
        return this;
    }

    public Quantization streaming(Streaming mode) {
        this.streaming = Objects.requireNonNull(mode, "mode");
        return this;
    }

    /** Output shard size (default 5 GB, as the hub). */
    public Quantization maxShardBytes(long bytes) {
        this.maxShardBytes = bytes;
        return this;
    }

    /** The most memory a run that loads the whole model may need for its FLOAT32 weights (default 3/4 of physical memory). */
    public Quantization memoryBudget(long bytes) {
        this.memoryBudget = bytes;
        return this;
    }

    /**
     * Streamed runs: calibration hidden states beyond {@code overBytes} in memory go to files in
     * {@code dir} (a folder of the run's own inside it, removed at the end); null keeps them in
     * the output's partial folder. Default: over {@value #DEFAULT_OFFLOAD_OVER} bytes.
     */
    public Quantization offload(Path dir, long overBytes) {
        this.offloadDir = dir;
        this.offloadOver = overBytes;
        return this;
    }

    /** Runs the pipeline; everything that can be checked is checked before the long work starts. */
    /**
     * After writing, evaluates the quantized model against the input on held-out text
     * ({@link QuantizationResult#evaluation}): {@code text}, or with null the built-in sentences
     * (not the built-in calibration text).
     */
    public Quantization evaluate(Path text) {
        this.evaluate = true;
        this.heldOut = text;
        return this;
    }

    /** Bounds the evaluation of a causal LM to this many held-out tokens (default: the whole text). */
    public Quantization evaluationTokens(long tokens) {
        if (tokens <= 0) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--eval-tokens " + tokens + ": expected a positive token count");
        }
        this.evalTokens = tokens;
        return this;
    }

    public QuantizationResult run() {
        if (method == null || output == null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "a quantization run needs a method and an output folder");
        }
        if (evaluate && heldOut != null && !Files.isRegularFile(heldOut)) { // refuse now, not after the run
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "held-out text " + heldOut + " does not exist or is not a file");
        }
        long start = System.nanoTime();
        boolean ownRegistry = registry == null;
        PluginRegistry plugins = ownRegistry ? PluginRegistry.standard(null) : registry;
        try {
            // the installed plugins' keys are valid exactly when the plugins are: the schema comes from the run's registry
            QuantConfig cfg = resolveConfig(ConfigSchema.of(plugins));
            if (cfg.getString("rotation", "none").equals("hadamard_online") && !format.equals(NATIVE_FORMAT)) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "rotation=hadamard_online multiplies down_proj's input by a Hadamard matrix at run"
                        + " time, which format " + format + " cannot hold; write --format " + NATIVE_FORMAT + ", or rotate offline only (--rotate)");
            }
            Path target = OutputFolder.check(model, output, force);
            OutputFiles.removeDeadTemporaries(target, p -> progress.note("removed " + p + ", the temporary folder of a run that was killed"));
            if (verifyInput && Files.isDirectory(model)) {
                Checksums.verify(model);
            }
            QuantMethod m = plugins.get(QuantMethodProvider.class, method).create();
            CheckpointFormat writer = plugins.get(CheckpointFormatProvider.class, format).create();
            String whyNot = whyNotStreamed(m, writer, cfg, plugins);
            if (streaming == Streaming.ON && whyNot != null) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cannot stream this run: " + whyNot);
            }
            QuantizationResult r = whyNot == null ? streamed(m, writer, cfg, plugins, target, start)
                    : inMemory(m, writer, cfg, plugins, target, start, whyNot);
            Path written = OutputFolder.replace(output, target, r.output());
            Map<String, Double> seconds = new LinkedHashMap<>(r.stageSeconds());
            Map<String, Object> evaluation = null;
            if (evaluate) {
                long t = System.nanoTime();
                evaluation = evaluateAgainstInput(written, plugins, r.streamed());
                seconds.put("evaluate", (System.nanoTime() - t) / 1e9);
            }
            return new QuantizationResult(r.method(), r.format(), written, r.streamed(), r.whyNotStreamed(), r.report(), r.skippedLayers(),
                    r.attentionMatmulsQuantized(), r.calibrationSamples(), (System.nanoTime() - start) / 1e9, seconds,
                    r.sizeBeforeBytes(), OutputFolder.weightBytes(written), cfg, r.resumedAfterBlocks(), evaluation, r.worstLayers());
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write " + output + ": " + e.getMessage(), e);
        } finally {
            if (ownRegistry) {
                plugins.close();
            }
        }
    }

    /**
     * The written model against the input on held-out text, as {@code fmsmo eval --reference}
     * measures it: perplexity of both (causal LMs), or the cosine of their sentence embeddings
     * (encoders); block by block when the models do not fit, and whenever the run itself streamed:
     * loading both whole would undo the memory bound the run kept (a 2-layer 8B-shaped run peaked
     * at 5.5 GiB, then at 11 GB in its evaluation).
     */
    private Map<String, Object> evaluateAgainstInput(Path written, PluginRegistry plugins, boolean runStreamed) {
        Path text = heldOut != null ? heldOut : CachedResource.file(org.fmsmo.core.eval.Evaluator.class, "held-out.txt", "held-out.txt");
        org.fmsmo.core.eval.Evaluator evaluator = new org.fmsmo.core.eval.Evaluator(new ModelLoader(plugins));
        org.fmsmo.core.eval.Evaluator.Options o = new org.fmsmo.core.eval.Evaluator.Options(text, model, EVAL_WINDOW, EVAL_BATCH, 256, Streaming.AUTO)
                .withTokenLimit(evalTokens);
        if (runStreamed && evaluator.whyNotStreamed(written, o) == null) {
            o = o.withStreaming(Streaming.ON);
        }
        Map<String, Object> r = evaluator.evaluate(written, o, progress);
        r.put("data", text.toString());
        return r;
    }

    private QuantConfig resolveConfig(ConfigSchema schema) {
        Map<String, Object> o = new LinkedHashMap<>(overrides);
        if (!format.equals(NATIVE_FORMAT)) {
            // HF/vLLM checkpoints have nowhere to keep a run-time input divisor: smooth only what folds into a norm.
            o.putIfAbsent("smoothq_fold_only", true);
        }
        if (format.equals("gptq")) {
            o.putIfAbsent("scale_dtype", "float16"); // GPTQ v1 stores F16 scales
        }
        if (config == null) {
            return Recipes.qconfigInit(recipe != null ? recipe : "ptq_int8", o, schema);
        }
        QuantConfig c = config;
        for (Map.Entry<String, Object> e : o.entrySet()) {
            c = c.with(e.getKey(), e.getValue());
        }
        return c;
    }

    /** Null when this run can stream, else why not. */
    /** Whether the run rotates the model first ({@code rotation}, whole-model runs only). */
    private static boolean rotates(QuantConfig cfg) {
        return !cfg.getString("rotation", "none").equals("none");
    }

    private String whyNotStreamed(QuantMethod m, CheckpointFormat writer, QuantConfig cfg, PluginRegistry plugins) {
        if (streaming == Streaming.OFF) {
            return "streaming is off";
        }
        if (training != null) {
            return "training (" + method + ") needs the whole model at once";
        }
        if (!m.perBlock()) {
            return "method " + method + " does not run block by block";
        }
        if (!writer.streams() || writer.floatDtype() != null) {
            return "format " + format + " is not written part by part";
        }
        if (rotates(cfg)) {
            return "the rotation rewrites the embedding and the head, which are outside the decoder blocks";
        }
        if (!cfg.getBoolean("qskip_lm_head", true)) {
            return "lm_head is quantized (qskip_lm_head=false), and it is outside the decoder blocks";
        }
        HfConfig hf = HfConfig.read(model);
        if (!new ModelLoader(plugins).streamable(hf)) {
            return "model_type '" + hf.modelType() + "' is not streamed (decoders are)";
        }
        if (CheckpointFormats.formatName(hf).isPresent()) {
            return "the input is already quantized";
        }
        return null;
    }

    private QuantizationResult streamed(QuantMethod m, CheckpointFormat writer, QuantConfig cfg, PluginRegistry plugins, Path target, long start) {
        HfConfig hf = HfConfig.read(model);
        CalibrationData data;
        try (HfTokenizer tok = calibration instanceof CalibrationSource.Text ? HfTokenizer.open(model) : null) {
            data = calibration == null ? null : calibration.load(hf.positive("vocab_size"), () -> tok, false);
        }
        try (StreamedModel stream = new ModelLoader(plugins).openStreamed(model, Math.max(StreamedRun.TRACE_TOKENS, data == null ? 0 : data.maxTokens()))) {
            long before = 4 * stream.checkpoint().elementCount();
            StreamedRun run = new StreamedRun(stream, method, m, format, writer, cfg, plugins, progress).offload(offloadDir, offloadOver);
            run.checkPlan(); // refuse now, not after a long run
            StreamedRun.Outcome o = run.run(data, target, maxShardBytes, fingerprint(cfg, data));
            return new QuantizationResult(method, format, target, true, null, o.report(), o.skipped(), o.bmms(), data == null ? 0 : data.size(),
                    (System.nanoTime() - start) / 1e9, o.stageSeconds(), before, 0, cfg, o.resumedAfterBlocks(), null, o.worst());
        }
    }

    /**
     * What decides a streamed run's bytes: a killed run's partial output is continued only by a run
     * with the same (the input's files by size and time, so a changed checkpoint is not mixed in).
     */
    private Map<String, Object> fingerprint(QuantConfig cfg, CalibrationData data) {
        Map<String, Object> f = new LinkedHashMap<>();
        Path in = model.toAbsolutePath().normalize();
        f.put("model", in.toString());
        Map<String, Object> files = new java.util.TreeMap<>();
        try (var list = Files.list(in)) {
            for (Path p : list.filter(Files::isRegularFile).toList()) {
                files.put(p.getFileName().toString(), java.util.List.of(Files.size(p), Files.getLastModifiedTime(p).toMillis()));
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot list " + model + ": " + e.getMessage(), e);
        }
        f.put("model_files", files);
        f.put("method", method);
        f.put("format", format);
        f.put("config", new java.util.TreeMap<>(cfg.settings()));
        f.put("calibration", data == null ? null : data.digest());
        f.put("max_shard_bytes", maxShardBytes);
        return f;
    }

    private QuantizationResult inMemory(QuantMethod m, CheckpointFormat writer, QuantConfig cfg, PluginRegistry plugins, Path target, long start,
                                        String whyNot) {
        checkFits(whyNot);
        Map<String, Double> seconds = new LinkedHashMap<>();
        long t = System.nanoTime();
        Path resume = training == null ? null : training.resume();
        ModelLoader loader = new ModelLoader(plugins);
        // The tokenizer is read when text is: calibration text or training. Random calibration and
        // methods without calibration need none, so a folder without tokenizer.json quantizes too.
        boolean text = training != null || calibration instanceof CalibrationSource.Text;
        try (TransformerModel tm = resume != null ? loader.loadForTraining(resume) : loader.load(model, text)) {
            QuantPlanner.checkLayerNames(tm.linearLayers().stream().map(LinearLayer::name).toList(), cfg);
            if (rotates(cfg) && resume == null) {
                if (!(tm instanceof org.fmsmo.core.model.transformer.TransformerForCausalLM lm)) {
                    throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "rotation: " + tm.architecture() + " is not a causal decoder; only decoders are rotated");
                }
                // before the plan: it traces the rotated model
                org.fmsmo.core.model.transformer.ResidualRotation.apply(lm, cfg.getInt("rotation_seed", 0), cfg.getString("rotation", "none")
                        .equals("hadamard_online"));
            }
            QuantPlan plan = ModelAnalyzer.plan(tm, cfg);
            writer.checkPlan(tm, plan); // refuse now, not after a long run
            // a training run without its own calibration examples calibrates on the first windows of its training text
            CalibrationSource source = calibration != null || training == null ? calibration
                    : new CalibrationSource.Text(training.trainData(), TRAINING_CALIBRATION_SAMPLES, training.seqLen(), training.batchSize(), null);
            CalibrationData data = source == null ? null
                    : source.load(tm.config().positive("vocab_size"), tm::tokenizer, tm.task() == org.fmsmo.api.arch.ArchitectureSpec.Task.SENTENCE_ENCODER);
            long before = tm.parameterBytes();
            seconds.put("load", (System.nanoTime() - t) / 1e9);
            t = System.nanoTime();
            QuantReport report;
            DefaultQuantContext context = new DefaultQuantContext(tm, plan, cfg, plugins, progress, data);
            // the report's input ranges, from the model before the method changes it (a training run is left alone)
            Map<String, float[]> ranges = training == null ? WorstLayers.inputRanges(context, plan, data != null) : Map.of();
            if (!ranges.isEmpty()) {
                seconds.put("profile_inputs", (System.nanoTime() - t) / 1e9);
                t = System.nanoTime();
            }
            try (TransformerModel teacher = training != null && training.distill() ? loader.load(model) : null) {
                if (training != null) {
                    TrainingSetup s = training;
                    Training tr = new Training(tm, teacher, s.trainData(), s.evalData(), s.seqLen(), s.batchSize(), s.seed())
                            .embeddingLoss(cfg.getString("qat_embedding_loss", "cosine"))
                            .trainAll(cfg.getString("qat_trainable", "all").equals("all"))
                            .checkpointTo(output.resolveSibling(output.getFileName() + ".checkpoints"), cfg);
                    context.withTraining(resume != null ? tr.resumeFrom(resume) : tr);
                }
                report = m.quantize(context);
                context.quantizeKvCache();
            }
            WorstLayers worst = new WorstLayers(List.of());
            worst.add(tm, report.layers(), ranges, Map.of());
            seconds.put("quantize", (System.nanoTime() - t) / 1e9);
            t = System.nanoTime();
            Path written = CheckpointFormats.write(tm, format, writer, target, cfg);
            seconds.put("write", (System.nanoTime() - t) / 1e9);
            return new QuantizationResult(method, format, written, false, whyNot, report, StreamedRun.skipped(plan), plan.quantizedBmms().size(),
                    data == null ? 0 : data.size(), (System.nanoTime() - start) / 1e9, seconds, before, 0, cfg, 0, null, worst.worst());
        }
    }

    /** Loading the whole model holds every weight as FLOAT32: refuse a model that would not fit, before loading it. */
    private void checkFits(String whyNot) {
        if (!Files.isRegularFile(model.resolve(HfConfig.FILE))) {
            return; // the loader says what is missing
        }
        long bytes;
        try (SafetensorsModel ckpt = SafetensorsModel.open(model)) {
            bytes = 4 * ckpt.elementCount();
        }
        if (bytes > memoryBudget) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, String.format(java.util.Locale.ROOT,
                    "%s needs %.1f GB for its FLOAT32 weights when loaded whole, over the memory budget of %.1f GB; this run cannot stream"
                            + " because %s", model, bytes / 1e9, memoryBudget / 1e9, whyNot));
        }
    }
}
