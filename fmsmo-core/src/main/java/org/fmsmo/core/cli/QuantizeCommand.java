package org.fmsmo.core.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.core.model.ModelLoader;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.recipe.Recipes;
import org.fmsmo.core.session.CalibrationData;
import org.fmsmo.core.session.ConsoleProgress;
import org.fmsmo.core.session.DefaultQuantContext;
import org.fmsmo.core.session.ModelAnalyzer;
import org.fmsmo.core.session.NativeCheckpoint;
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
        "Quantize a model folder with a method plugin (ptq, dq, rtn …) and write it in the fms native format",
        "(float weights + quantizer state + fms_quant_config.json), which `fmsmo eval` loads."})
final class QuantizeCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model folder.")
    Path model;

    @Option(names = "--method", required = true, paramLabel = "NAME", description = "Method plugin: ptq, dq, rtn …")
    String method;

    @Option(names = "--recipe", paramLabel = "R", description = "Built-in recipe (qat_int8, ptq_int8, dq) or a .json file (default: dq for dq, else ptq_int8).")
    String recipe;

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

    @Option(names = "--calibration", paramLabel = "FILE", description = "Calibration text (decoders: consecutive windows; encoders: one sentence per line).")
    Path calibration;

    @Option(names = "--num-samples", defaultValue = "64", paramLabel = "N", description = "Calibration samples (default: ${DEFAULT-VALUE}).")
    int numSamples;

    @Option(names = "--seq-len", defaultValue = "128", paramLabel = "N", description = "Calibration window / sentence cap in tokens (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "N", description = "Samples per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Output folder (must not exist).")
    Path output;

    @Option(names = "--json", description = "Print the summary as one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ConsoleProgress progress = new ConsoleProgress(spec.commandLine().getErr(), 2000);
        QuantConfig cfg = Recipes.qconfigInit(recipe != null ? recipe : method.equals("dq") ? "dq" : "ptq_int8", overrides());
        long start = System.nanoTime();
        try (PluginRegistry registry = plugins.openRegistry(); TransformerModel m = ModelLoader.load(model)) {
            plugins.checkStrict(registry);
            QuantMethodProvider provider = registry.get(QuantMethodProvider.class, method);
            QuantPlan plan = ModelAnalyzer.find().plan(m, cfg);
            CalibrationData calib = calibration == null ? null : CalibrationData.fromText(m, calibration, numSamples, seqLen, batchSize);
            QuantReport report = provider.create().quantize(new DefaultQuantContext(m, plan, cfg, registry, progress, calib));
            Path written = NativeCheckpoint.save(m, cfg, output);
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("method", method);
            summary.put("output", written.toString());
            summary.put("layers_quantized", report.layers().size());
            summary.put("layers_skipped", plan.layers().size() - plan.quantized().size() - plan.quantizedBmms().size());
            summary.put("attention_matmuls_quantized", plan.quantizedBmms().size());
            summary.put("calibration_samples", calib == null ? 0 : calib.size());
            summary.put("seconds", (System.nanoTime() - start) / 1e9);
            summary.put("mean_weight_rel_error", report.layers().stream().mapToDouble(l -> l.metrics().getOrDefault("weight_rel_error", 0.0))
                    .average().orElse(0));
            summary.put("config", cfg.settings());
            if (json) {
                out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(summary));
            } else {
                for (QuantReport.LayerResult l : report.layers()) {
                    out.printf("%-48s %-30s rel.err %.5f%n", l.name(), l.spec(), l.metrics().getOrDefault("weight_rel_error", Double.NaN));
                }
                summary.forEach((k, v) -> out.printf("%-28s %s%n", k, v));
            }
        }
        return 0;
    }

    private Map<String, Object> overrides() {
        Map<String, Object> o = new LinkedHashMap<>(extra);
        put(o, "nbits_w", nbitsW);
        put(o, "nbits_a", nbitsA);
        put(o, "qw_mode", qwMode);
        put(o, "qa_mode", qaMode);
        put(o, "qa_mode_calib", qaModeCalib);
        put(o, "smoothq_alpha", smoothqAlpha);
        return o;
    }

    private static void put(Map<String, Object> o, String key, Object value) {
        if (value != null) {
            o.put(key, value);
        }
    }
}
