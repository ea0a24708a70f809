package org.fmsmo.core.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.core.report.QuantizationReportPage;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.MixedPrecision;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.fmsmo.core.pipeline.Sensitivity;
import org.fmsmo.core.pipeline.TrainingSetup;
import org.fmsmo.core.plugin.PluginRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fmsmo quantize}: recipe + overrides → analyzer plan → the method plugin (which runs
 * {@code qmodel_prep} and calibration) → the fake-quantized model in the fms native format, which
 * {@code fmsmo eval} loads.
 */
@Command(name = "quantize", description = {
        "Quantize a model folder with a method plugin and report what it cost.",
        "Methods: gptq, awq, awq+gptq, fp8, rtn, ptq, dq, qat and any installed plugin's. The output is the fms format (float weights with",
        "the quantizers' state) or a deployable one (--format compressed-tensors|gptq), which `fmsmo eval` loads too.",
        "The run ends by evaluating the result against the input on held-out text (--eval-data, --no-eval)."})
final class QuantizeCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @Mixin
    ProgressOptions progressOptions;

    @Mixin
    WeightGrid grid;

    @Option(names = "--model", paramLabel = "DIR", description = "Hugging Face model folder (default: the built-in all-MiniLM-L6-v2, with built-in calibration sentences).")
    Path model;

    @Option(names = "--method", required = true, paramLabel = "NAME", description = "Method plugin: gptq, fp8, rtn, ptq, dq …")
    String method;

    @Option(names = "--recipe", paramLabel = "R", description = "Built-in recipe (qat_int8, ptq_int8, dq, fp8_dynamic, fp8_static) or a .json file "
            + "(default: dq for dq, fp8_dynamic for fp8, else ptq_int8).")
    String recipe;

    @Option(names = "--rotate", description = "Rotate the residual stream and each attention head's values by randomized Hadamard matrices "
            + "before quantizing (QuaRot's offline rotations, folded into the weights: the float model computes the same, outlier channels "
            + "are spread). Loads the model whole.")
    boolean rotate;

    @Option(names = "--rotate-online", description = "As --rotate, and multiply down_proj's input by a randomized Hadamard matrix at run time"
            + " (QuaRot's online rotation; its weight takes the same matrix), so the MLP activation it quantizes is spread too. Needs --format fms.")
    boolean rotateOnline;

    @Option(names = "--target-bits", paramLabel = "B", description = "Mixed precision: average weight bits allowed; each layer gets one of "
            + "--mixed-widths from the ranking of --sensitivity (the most sensitive layers the most bits).")
    Double targetBits;

    @Option(names = "--target-size", paramLabel = "SIZE", description = "Mixed precision under a size: the written weight files at most SIZE"
            + " (bytes, or with kB, MB, GB, KiB, MiB, GiB: 700MB, 4.5GB); format compressed-tensors, whose size follows from the widths.")
    String targetSize;

    @Option(names = "--mixed-widths", split = ",", paramLabel = "B,B…", description = "The widths --target-bits chooses from, ascending "
            + "(default: --bits − 1, --bits, 8; compressed-tensors packs 2, 4 and 8 only: e.g. 2,4,8 or 4,8).")
    List<Integer> mixedWidths;

    @Option(names = "--sensitivity", paramLabel = "FILE.json", description = "The ranking `fmsmo sensitivity` wrote, for --target-bits "
            + "(measured at any width; one bit below --bits separates the layers best); the report plots it.")
    Path sensitivity;

    /** --sensitivity, read before the run so that a bad file is refused before the long work. */
    private Sensitivity.Saved ranking;

    @Option(names = "--kv-cache", paramLabel = "SCHEME", description = "Quantize the KV cache: fp8 stores keys and values in FP8 e4m3 with one "
            + "calibrated scale per tensor (compressed-tensors' kv_cache_scheme, as vLLM's fp8 cache); none (default) leaves them in float.")
    String kvCache;

    @Option(names = "--desc-act", description = "GPTQ act-order: columns by descending Hessian diagonal (stores g_idx).")
    boolean descAct;

    @Option(names = "--damp-percent", paramLabel = "X", description = "GPTQ dampening fraction of mean(diag H) (default 0.01).")
    Double dampPercent;

    @Option(names = "--scheme", paramLabel = "S", description = "fp8 scheme: FP8_DYNAMIC (per-token activations, default) or FP8 (calibrated per-tensor).")
    String scheme;

    @Option(names = "--ignore", paramLabel = "NAME", arity = "1..*", description = "Layers left in float (added to qskip_layer_name; lm_head is skipped by default).")
    java.util.List<String> ignore = new java.util.ArrayList<>();

    @Option(names = "--format", defaultValue = "fms", paramLabel = "F", description = "Output format: fms (native, default), compressed-tensors, gptq.")
    String format;

    @Option(names = "--no-verify", description = "Read an input folder fmsmo wrote without checking it against its SHA256SUMS.")
    boolean noVerify;

    @Option(names = "--force", description = "Replace an existing output folder.")
    boolean force;

    @Option(names = "--shuffle", description = "Take calibration windows at random positions instead of consecutively from the start.")
    boolean shuffle;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "Seed for --shuffle and for qat's batch order (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--nbits-w", paramLabel = "N", description = "Weight bits (overrides the recipe).")
    Integer nbitsW;

    @Option(names = "--nbits-a", paramLabel = "N", description = "Activation bits; 32 leaves activations in float.")
    Integer nbitsA;

    @Option(names = "--qw-mode", paramLabel = "M", description = "Weight quantizer mode (sawb+, maxperCh …).")
    String qwMode;

    @Option(names = "--qa-mode", paramLabel = "M", description = "Activation quantizer mode (pact+, pertokenmax, maxsym …).")
    String qaMode;

    @Option(names = "--qa-mode-calib", paramLabel = "OBS", description = "Observer for static activation ranges: minmax, moving_minmax, percentile, mse, entropy.")
    String qaModeCalib;

    @Option(names = "--smoothq-alpha", paramLabel = "A", description = "SmoothQuant migration strength (dq).")
    Double smoothqAlpha;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Any other config key, e.g. --set qskip_layer_name=lm_head.")
    Map<String, String> extra = new LinkedHashMap<>();

    @Option(names = "--calibration", paramLabel = "FILE", description = "Calibration text (decoders: consecutive windows; encoders: one sentence per line), or 'random' for random token ids"
            + " (--num-samples, --seq-len, --seed), for models whose tokenizer matches no text.")
    Path calibration;

    @Option(names = "--num-samples", defaultValue = "64", paramLabel = "N", description = "Calibration samples (default: ${DEFAULT-VALUE}).")
    int numSamples;

    @Option(names = "--seq-len", defaultValue = "128", paramLabel = "N", description = "Calibration window / sentence cap in tokens (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "N", description = "Samples per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--train-data", paramLabel = "FILE", description = "qat: training text (decoders: consecutive windows of --seq-len; encoders: one sentence per line).")
    Path trainData;

    @Option(names = "--eval-data", paramLabel = "FILE", description = "Held-out text the quantized model is evaluated on against the input when the run ends"
            + " (default: built-in sentences, not the calibration text); with qat also before and after training (and every qat_eval_every steps).")
    Path evalData;

    @Option(names = "--no-eval", description = "Skip the evaluation against the input model at the end of the run.")
    boolean noEval;

    @Option(names = "--eval-tokens", paramLabel = "N", description = "Causal LMs: evaluate at most N tokens of the held-out text (default: all of it).")
    Long evalTokens;

    @Option(names = "--distill", description = "qat: learn from the float model (KL divergence of next-token distributions; encoders: embedding cosine).")
    boolean distill;

    @Option(names = "--steps", paramLabel = "N", description = "qat: optimizer steps (qat_steps, default 100).")
    Integer steps;

    @Option(names = "--lr", paramLabel = "X", description = "qat: AdamW learning rate of the weights (qat_lr, default 1e-4).")
    Double lr;

    @Option(names = "--clip-lr", paramLabel = "X", description = "qat: learning rate of the quantizers' clips (pact_a_lr and pact_w_lr; default: the recipe's).")
    Double clipLr;

    @Option(names = "--eval-every", paramLabel = "N", description = "qat: evaluate on --eval-data every N steps as well (qat_eval_every).")
    Integer evalEvery;

    @Option(names = "--checkpoint-every", paramLabel = "N", description = "qat: save a resumable checkpoint every N steps under <output>.checkpoints/ (always after the last step).")
    Integer checkpointEvery;

    @Option(names = "--resume", paramLabel = "DIR", description = "qat: go on from a checkpoint (<output>.checkpoints/step-N); --model stays the original (teacher, plan)."
            + " A streamed run needs no flag: started again with the same arguments after a crash, it goes on after its last finished block.")
    Path resume;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Output folder (must not exist).")
    Path output;

    @Option(names = "--json", description = "Print the summary as one JSON object.")
    boolean json;

    @Option(names = "--report", paramLabel = "FILE.html", description = "Also write the HTML report (accuracy, size, error by layer with plots,"
            + " time, config) here; it is always written into the output folder as " + QuantizationReportPage.FILE + ".")
    Path report;

    @Option(names = "--streaming", defaultValue = "auto", paramLabel = "MODE", description = "Process the model layer by layer: auto (when the model, method and"
            + " format allow it), on (or fail saying why not), off (load it whole). Default: ${DEFAULT-VALUE}.")
    String streaming;

    @Option(names = "--offload-dir", paramLabel = "DIR", description = "Streamed runs: where calibration hidden states over --offload-over go"
            + " (default: inside the output's partial folder).")
    Path offloadDir;

    @Option(names = "--offload-over", defaultValue = "2000000000", paramLabel = "BYTES", description = "Streamed runs: hidden states kept in memory"
            + " before the rest go to files (default: ${DEFAULT-VALUE}).")
    long offloadOver;

    @Option(names = "--max-shard-size", defaultValue = "5000000000", paramLabel = "BYTES", description = "Output shard size of a streamed run (default: ${DEFAULT-VALUE}).")
    long maxShardBytes;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        org.fmsmo.api.quant.ProgressListener progress = progressOptions.listener(spec.commandLine().getErr());
        if (model == null) {
            model = DefaultModel.folder();
            if (calibration == null) {
                calibration = DefaultModel.calibration();
            }
            if (trainData == null && method.equals("qat")) {
                trainData = DefaultModel.calibration(); // the built-in sentences double as training text
            }
            spec.commandLine().getErr().println("no --model: quantizing the built-in default model " + DefaultModel.NAME + " (" + model + ")"
                    + " with calibration " + calibration);
        }
        if (report != null) { // before the long work: the page is written when it ends
            Path folder = report.toAbsolutePath().getParent();
            if (folder == null || !Files.isDirectory(folder)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--report " + report + ": expected a file in an existing folder; "
                        + folder + " does not exist");
            }
            if (Files.isDirectory(report)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--report " + report + ": expected a file name, found a folder");
            }
        }
        if (resume != null && !method.equals("qat")) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--resume continues a qat run; method is " + method);
        }
        if (trainData == null && distill) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--distill goes with --train-data (method qat)");
        }
        if (noEval && evalData != null && trainData == null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--no-eval and --eval-data exclude each other");
        }
        ranking = sensitivity == null ? null : Sensitivity.load(sensitivity);
        Quantization run = Quantization.of(model).method(method).recipe(recipe != null ? recipe : defaultRecipe()).set(overrides())
                .format(format).output(output).force(force).verifyInput(!noVerify).progress(progress).streaming(Streaming.parse("--streaming", streaming)).maxShardBytes(maxShardBytes)
                .offload(offloadDir, offloadOver);
        if (!noEval) {
            run.evaluate(evalData);
            if (evalTokens != null) {
                run.evaluationTokens(evalTokens);
            }
        }
        Path calibrationText = calibration != null ? calibration : trainData;
        if (calibrationText != null && calibrationText.toString().equals("random")) {
            run.calibration(CalibrationSource.random(numSamples, seqLen, batchSize, seed));
        } else if (calibrationText != null) {
            run.calibration(new CalibrationSource.Text(calibrationText, numSamples, seqLen, batchSize, shuffle ? seed : null));
        }
        if (trainData != null) {
            run.training(new TrainingSetup(trainData, evalData, distill, seqLen, batchSize, seed, resume));
        }
        try (PluginRegistry registry = plugins.openRegistry()) {
            plugins.checkStrict(registry);
            QuantizationResult result = run.plugins(registry).run();
            String page = QuantizationReportPage.html(result, java.util.stream.Stream.concat(java.util.stream.Stream.of("fmsmo"),
                    spec.commandLine().getParseResult().originalArgs().stream()).toList(), ranking);
            QuantizationReportPage.write(result.output().resolve(QuantizationReportPage.FILE), page);
            if (report != null) {
                QuantizationReportPage.write(report, page);
            }
            summary(out, result);
        }
        return 0;
    }

    private String defaultRecipe() {
        return switch (method) {
            case "dq" -> "dq";
            case "qat" -> "qat_int8";
            case "fp8" -> scheme == null || scheme.equalsIgnoreCase("FP8_DYNAMIC") ? "fp8_dynamic" : switch (scheme.toUpperCase(java.util.Locale.ROOT)) {
                case "FP8" -> "fp8_static";
                default -> throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--scheme " + scheme + ": expected FP8_DYNAMIC or FP8");
            };
            default -> "ptq_int8";
        };
    }

    private void summary(PrintWriter out, QuantizationResult r) throws java.io.IOException {
        QuantReport report = r.report();
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("method", method);
        summary.put("output", r.output().toString());
        summary.put("streamed", r.streamed());
        if (!r.streamed()) {
            summary.put("not_streamed_because", r.whyNotStreamed());
        } else {
            summary.put("resumed_after_blocks", r.resumedAfterBlocks());
        }
        summary.put("layers_quantized", report.layers().size());
        summary.put("layers_skipped", r.layersSkipped());
        summary.put("attention_matmuls_quantized", r.attentionMatmulsQuantized());
        summary.put("calibration_samples", r.calibrationSamples());
        summary.put("format", format);
        summary.put("seconds", r.seconds());
        r.stageSeconds().forEach((k, v) -> summary.put(k + "_seconds", v));
        summary.putAll(report.totals());
        summary.put("size_before_bytes", r.sizeBeforeBytes());
        summary.put("size_after_bytes", r.sizeAfterBytes());
        summary.put("layers", report.layers().stream().map(l -> {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", l.name());
            e.put("spec", l.spec().toString());
            e.putAll(l.metrics());
            return e;
        }).toList());
        summary.put("mean_weight_rel_error", report.layers().stream().mapToDouble(l -> l.metrics().getOrDefault("weight_rel_error", 0.0))
                .average().orElse(0));
        summary.put("config", r.config().settings());
        if (r.evaluation() != null) {
            summary.put("evaluation", r.evaluation());
        }
        if (json) {
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(summary));
            return;
        }
        if (r.evaluation() != null) {
            out.println(QuantizationReportPage.accuracy(r.evaluation()));
        }
        out.printf("%-44s %-28s %10s %10s %8s%n", "layer", "spec", "w.rel.err", "out.err", "s");
        for (QuantReport.LayerResult l : report.layers()) {
            out.printf("%-44s %-28s %10.5f %10s %8s%n", l.name(), l.spec(), l.metrics().getOrDefault("weight_rel_error", Double.NaN),
                    l.metrics().containsKey("output_rel_error") ? String.format(java.util.Locale.ROOT, "%.5f", l.metrics().get("output_rel_error")) : "-",
                    l.metrics().containsKey("seconds") ? String.format(java.util.Locale.ROOT, "%.2f", l.metrics().get("seconds")) : "-");
        }
        summary.forEach((k, v) -> {
            if (!k.equals("layers")) {
                out.printf("%-28s %s%n", k, v);
            }
        });
    }

    private Map<String, Object> overrides() {
        Map<String, Object> o = new LinkedHashMap<>(extra);
        put(o, "nbits_w", nbitsW);
        put(o, "nbits_a", nbitsA);
        put(o, "qw_mode", qwMode);
        put(o, "qa_mode", qaMode);
        put(o, "qa_mode_calib", qaModeCalib);
        put(o, "smoothq_alpha", smoothqAlpha);
        put(o, "kv_cache_scheme", kvCache);
        if (rotate || rotateOnline) {
            o.put("rotation", rotateOnline ? "hadamard_online" : "hadamard");
        }
        grid.put(o, method, nbitsA != null);
        if (targetBits != null && targetSize != null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--target-bits and --target-size exclude each other: give one budget");
        }
        if ((targetBits != null || targetSize != null) && sensitivity == null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--target-bits and --target-size need --sensitivity: the ranking the budget is spent by");
        }
        if (targetBits != null || targetSize != null) {
            o.put("qspecial_layers", mixedPrecision(o));
        }
        if (descAct) {
            o.put("desc_act", true);
        }
        put(o, "damp_percent", dampPercent);
        put(o, "qat_steps", steps);
        put(o, "qat_checkpoint_every", checkpointEvery);
        put(o, "qat_eval_every", evalEvery);
        put(o, "qat_lr", lr);
        if (clipLr != null) {
            o.put("pact_a_lr", clipLr);
            o.put("pact_w_lr", clipLr);
        }
        if (!ignore.isEmpty()) {
            java.util.List<String> skip = new java.util.ArrayList<>(ignore);
            Object given = o.get("qskip_layer_name");
            if (given != null) {
                skip.addAll(java.util.Arrays.asList(given.toString().split(",")));
            }
            o.put("qskip_layer_name", skip);
        }
        return o;
    }

    /** {@code qspecial_layers} giving each layer the width {@link MixedPrecision} chose, where it differs from --bits. */
    private Map<String, Object> mixedPrecision(Map<String, Object> o) {
        if (!WeightGrid.METHODS.contains(method)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--target-bits and --target-size set per-layer INT weight bits, for " + WeightGrid.METHODS
                    + "; method is " + method);
        }
        int b = grid.bits();
        Sensitivity.Saved saved = ranking;
        List<Integer> widths = mixedWidths != null ? mixedWidths : MixedPrecision.defaultWidths(b);
        Map<String, Integer> width = targetBits != null ? MixedPrecision.allocate(saved.result().layers(), saved.bits(), widths, targetBits)
                : MixedPrecision.allocateSize(saved.result().layers(), saved.bits(), widths, bytes("--target-size", targetSize),
                        otherTensorBytes(saved.result().layers()), stored());
        Map<String, Object> special = new LinkedHashMap<>();
        width.forEach((layer, w) -> {
            if (w != b) {
                special.put(layer, Map.of("qw_spec", grid.spec(w), "nbits_w", w));
            }
        });
        StringBuilder counts = new StringBuilder();
        for (int w : widths) {
            counts.append(counts.isEmpty() ? "" : ", ").append(count(width, w)).append(" at ").append(w).append(" bits");
        }
        spec.commandLine().getErr().printf("mixed precision: %.3f average weight bits over %d ranked layers (%s)%n",
                MixedPrecision.averageBits(saved.result().layers(), width), width.size(), counts);
        return special;
    }

    /** How the output format stores a quantized layer, for --target-size. */
    private MixedPrecision.Stored stored() {
        if (!format.equals("compressed-tensors")) { // gptq holds one width per model; fms keeps the float weights too
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--target-size needs --format compressed-tensors, whose size follows from the"
                    + " widths; format is " + format + " (use --target-bits)");
        }
        return new MixedPrecision.Stored(grid.groupSize(), 32, grid.asym); // F32 scales, packed zero points when asymmetric
    }

    /**
     * What the output takes besides the ranked layers' codes, scales and zero points: the input's
     * other tensors as they are (embeddings, norms, head, biases), each quantized layer's small
     * tensors ({@code weight_shape}, {@code g_idx}), and the safetensors header's entry for every
     * tensor, counted at {@value #HEADER_ENTRY_BYTES} bytes beyond its name (more than an entry
     * takes), so that the written files stay under the target.
     */
    private long otherTensorBytes(List<Sensitivity.Layer> ranked) {
        java.util.Set<String> weights = new java.util.HashSet<>();
        ranked.forEach(l -> weights.add(l.name() + ".weight"));
        List<String> suffixes = List.of(".weight_packed", ".weight_shape", ".weight_scale", ".weight_zero_point", ".weight_g_idx");
        try (org.fmsmo.core.io.safetensors.SafetensorsModel ckpt = org.fmsmo.core.io.safetensors.SafetensorsModel.open(model)) {
            long other = 8; // the header's length
            for (String name : ckpt.names()) {
                var info = ckpt.info(name);
                if (!weights.contains(name)) {
                    other += info.end() - info.begin() + name.length() + HEADER_ENTRY_BYTES;
                    continue;
                }
                String layer = name.substring(0, name.length() - ".weight".length());
                for (String suffix : suffixes) {
                    other += layer.length() + suffix.length() + HEADER_ENTRY_BYTES;
                }
                other += 8 + (descAct ? 4 * info.shape()[1] : 0); // weight_shape: two int32; g_idx: one per input
            }
            return other;
        }
    }

    /** Bytes of a safetensors header entry besides the tensor's name: dtype, shape and offsets with their JSON. */
    private static final int HEADER_ENTRY_BYTES = 96;

    /** A size: bytes, or a number with kB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024). */
    static long bytes(String flag, String text) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\\s*").matcher(text);
        if (!m.matches()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, flag + " " + text + ": expected a size such as 5GB, 700MB, 1.5GiB or 123456 (bytes)");
        }
        String unit = m.group(2) == null ? "B" : m.group(2);
        double scale = switch (unit) {
            case "kB", "KB" -> 1e3;
            case "MB" -> 1e6;
            case "GB" -> 1e9;
            case "TB" -> 1e12;
            case "KiB" -> 1024.0;
            case "MiB" -> 1024.0 * 1024;
            case "GiB" -> 1024.0 * 1024 * 1024;
            case "TiB" -> 1024.0 * 1024 * 1024 * 1024;
            default -> 1;
        };
        return Math.round(Double.parseDouble(m.group(1)) * scale);
    }

    private static long count(Map<String, Integer> width, int bits) {
        return width.values().stream().filter(w -> w == bits).count();
    }

    private static void put(Map<String, Object> o, String key, Object value) {
        if (value != null) {
            o.put(key, value);
        }
    }
}
