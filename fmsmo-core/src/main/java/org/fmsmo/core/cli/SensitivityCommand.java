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
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Sensitivity;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.report.SensitivityPlot;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fmsmo sensitivity}: the per-layer ranking of {@link Sensitivity}, as a table, JSON and a plot. */
@Command(name = "sensitivity", description = {
        "Rank a model's linear layers by what quantizing each one alone costs on held-out text.",
        "Each layer is quantized by the method with the rest in float; the cost is the relative perplexity increase (causal LMs)",
        "or 1 − mean cosine (encoders). The ranking is written as JSON (continued where it stopped when run again with the same",
        "settings) and as a PNG bar chart, and printed as a table. A decoder is measured one block in memory at a time."})
final class SensitivityCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @Mixin
    ProgressOptions progressOptions;

    @Option(names = "--model", paramLabel = "DIR", description = "Hugging Face model folder (default: the built-in all-MiniLM-L6-v2, with built-in calibration sentences).")
    Path model;

    @Option(names = "--method", defaultValue = "rtn", paramLabel = "NAME", description = "The method that quantizes each layer: rtn (default), gptq, awq, awq+gptq.")
    String method;

    @Mixin
    WeightGrid grid;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Any other config key of the runs, e.g. --set damp_percent=0.02.")
    Map<String, String> extra = new LinkedHashMap<>();

    @Option(names = "--calibration", paramLabel = "FILE", description = "Calibration text for methods that need it (gptq, awq), or 'random' for random token ids.")
    Path calibration;

    @Option(names = "--num-samples", defaultValue = "64", paramLabel = "N", description = "Calibration samples (default: ${DEFAULT-VALUE}).")
    int numSamples;

    @Option(names = "--seq-len", defaultValue = "128", paramLabel = "N", description = "Calibration window in tokens (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "N", description = "Samples per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "Seed of random calibration tokens (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--eval-data", paramLabel = "FILE", description = "Held-out text each layer's model is evaluated on (default: built-in sentences).")
    Path evalData;

    @Option(names = "--eval-tokens", paramLabel = "N", description = "Causal LMs: evaluate at most N tokens of the held-out text (default: all of it).")
    Long evalTokens;

    @Option(names = "--output", required = true, paramLabel = "FILE.json", description = "The ranking as JSON, written after every layer; "
            + "an existing file of the same run is continued, one of another run refused.")
    Path output;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "The bar chart (default: the --output path with .png).")
    Path plot;

    @Option(names = "--metric", defaultValue = "auto", paramLabel = "M", description = "What a layer's cost is: auto (the perplexity increase"
            + " of a causal LM, 1 − mean cosine of an encoder) or kl (decoders: the mean KL divergence of the next-token distributions from"
            + " the float model's, nats per token; it orders small costs, as of 4-bit GPTQ, that a perplexity's noise hides).")
    String metric;

    @Option(names = "--json", description = "Print the ranking as JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Path folder = output.toAbsolutePath().getParent();
        if (folder == null || !Files.isDirectory(folder) || Files.isDirectory(output)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--output " + output + ": expected a file in an existing folder");
        }
        if (evalTokens != null && evalTokens < 1) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--eval-tokens " + evalTokens + ": expected at least 1");
        }
        if (model == null) {
            model = DefaultModel.folder();
            if (calibration == null) {
                calibration = DefaultModel.calibration();
            }
        }
        if (!metric.equals("auto") && !metric.equals("kl")) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--metric " + metric + ": expected auto or kl");
        }
        Map<String, Object> settings = new LinkedHashMap<>(extra);
        grid.put(settings, method, settings.containsKey("nbits_a"));
        Sensitivity run = Sensitivity.of(model).method(method).set(settings).evaluate(evalData).journal(output).klDivergence(metric.equals("kl"))
                .progress(progressOptions.listener(spec.commandLine().getErr()));
        if (evalTokens != null) {
            run.evaluationTokens(evalTokens);
        }
        if (calibration != null) {
            run.calibration(calibration.toString().equals("random") ? CalibrationSource.random(numSamples, seqLen, batchSize, seed)
                    : CalibrationSource.text(calibration, numSamples, seqLen, batchSize));
        }
        Sensitivity.Result r;
        try (PluginRegistry registry = plugins.openRegistry()) {
            plugins.checkStrict(registry);
            r = run.plugins(registry).run();
        }
        Path png = plot != null ? plot : output.resolveSibling(output.getFileName().toString().replaceFirst("\\.json$", "") + ".png");
        SensitivityPlot.write(png, r, method);
        PrintWriter out = spec.commandLine().getOut();
        List<Sensitivity.Layer> ranked = r.ranked();
        if (json) {
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("metric", r.metric());
            j.put("reference", r.reference());
            j.put("ranked", ranked);
            j.put("plot", png.toString());
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(j));
            return 0;
        }
        boolean ppl = r.metric().equals("perplexity");
        boolean kl = r.metric().equals("kl");
        if (kl) {
            out.printf("each layer quantized alone by %s: KL divergence from the float model's next-token distributions%n", method);
        } else {
            out.printf("%s of the float model: %.4f; each layer quantized alone by %s:%n", r.metric(), r.reference(), method);
        }
        out.printf("%4s  %-44s %12s %12s%n", "rank", "layer", ppl ? "perplexity" : kl ? "nats/token" : "cosine", ppl ? "increase" : kl ? "" : "1 − cosine");
        int rank = 1;
        for (Sensitivity.Layer l : ranked) {
            out.printf("%4d  %-44s %12.6f %11s%n", rank++, l.name(), l.metric(),
                    ppl ? String.format(java.util.Locale.ROOT, "%+.3f%%", 100 * l.loss()) : kl ? "" : String.format(java.util.Locale.ROOT, "%.5f", l.loss()));
        }
        out.println("ranking: " + output + ", plot: " + png);
        return 0;
    }
}
