package org.fmsmo.core.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.fmsmo.api.quant.InputGroup;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.analysis.ModelAnalyzer;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.recipe.Recipes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fmsmo analyze}: trace a model and print its quantization plan. */
@Command(name = "analyze", description = {
        "Trace a model's forward pass and print its quantization plan.",
        "Every linear layer and attention matmul is listed as quantized or skipped, with the reason and spec,",
        "and the layers that share an input (SmoothQuant fold targets)."})
final class AnalyzeCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model folder.")
    Path model;

    @Option(names = "--recipe", defaultValue = "ptq_int8", paramLabel = "R", description = "Recipe whose config decides (default: ${DEFAULT-VALUE}).")
    String recipe;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Config overrides, e.g. --set QBmm=true.")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Option(names = "--json", description = "Print {\"layers\": [...], \"input_groups\": [...]}.")
    boolean json;

    @picocli.CommandLine.Mixin
    PluginOptions plugins;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (org.fmsmo.core.plugin.PluginRegistry registry = plugins.openRegistry()) {
            plugins.checkStrict(registry);
            QuantConfig cfg = Recipes.qconfigInit(recipe, overrides, org.fmsmo.core.recipe.ConfigSchema.of(registry));
            analyze(registry, cfg, out);
        }
        return 0;
    }

    private void analyze(org.fmsmo.core.plugin.PluginRegistry registry, QuantConfig cfg, PrintWriter out) throws Exception {
        try (TransformerModel m = new ModelLoader(registry).load(model)) {
            QuantPlan plan = ModelAnalyzer.plan(m, cfg);
            if (json) {
                out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(toJson(plan)));
            } else {
                for (LayerDecision d : plan.layers()) {
                    out.printf("%-46s %-6s %-8s %-34s %s%n", d.name(), d.kind(), d.quantize() ? "quantize" : "skip",
                            d.quantize() ? d.weightSpec() + (d.inputSpec() == null ? "" : " / " + d.inputSpec()) : "", d.reason());
                }
                for (InputGroup g : plan.inputGroups()) {
                    out.printf("shared input %-30s -> %s%s%n", g.producer().isEmpty() ? "(untraced op)" : g.producer(), g.layers(),
                            g.foldable() ? " (foldable)" : "");
                }
                long linears = plan.quantized().size();
                out.printf("%d linear layers and %d attention matmuls to quantize, %d skipped%n", linears, plan.quantizedBmms().size(),
                        plan.layers().stream().filter(d -> !d.quantize()).count());
            }
        }
    }

    /** The plan as JSON-ready maps, with HF module names. */
    static Map<String, Object> toJson(QuantPlan plan) {
        List<Object> layers = new ArrayList<>();
        for (LayerDecision d : plan.layers()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", d.name());
            e.put("kind", d.kind());
            e.put("action", d.quantize() ? "quantize" : "skip");
            e.put("reason", d.reason());
            Map<String, Object> s = new LinkedHashMap<>();
            if (d.quantize()) {
                s.put("weight", d.weightSpec().toString());
                s.put("weight_mode", d.weightMode());
                s.put("input", d.inputSpec() == null ? null : d.inputSpec().toString());
                s.put("input_mode", d.inputMode());
            }
            e.put("spec", s);
            layers.add(e);
        }
        List<Object> groups = new ArrayList<>();
        for (InputGroup g : plan.inputGroups()) {
            groups.add(Map.of("layers", g.layers(), "producer", g.producer(), "foldable", g.foldable()));
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("layers", layers);
        root.put("input_groups", groups);
        return root;
    }
}
