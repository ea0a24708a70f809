package org.fmsmo.core.report;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.pipeline.Sensitivity;

/** The sensitivity ranking as a PNG bar chart: each layer's loss when it alone is quantized, most sensitive first. */
public final class SensitivityPlot {

    private SensitivityPlot() {
    }

    /** The chart's PNG bytes. */
    public static byte[] png(Sensitivity.Result r, String method) {
        Map<String, Double> ranked = new LinkedHashMap<>();
        boolean perplexity = r.metric().equals("perplexity");
        for (Sensitivity.Layer l : r.ranked()) {
            ranked.put(l.name(), perplexity ? 100 * l.loss() : l.loss());
        }
        String unit = perplexity ? "perplexity increase, % of the float model's " + String.format(java.util.Locale.ROOT, "%.2f", r.reference())
                : r.metric().equals("kl") ? "KL divergence from the float model's next-token distributions, nats per token"
                : "1 − mean cosine to the float model";
        return Charts.sensitivity(ranked, "Sensitivity: one layer quantized by " + method + ", the rest in float", unit);
    }

    /** Writes the chart atomically. */
    public static void write(Path file, Sensitivity.Result r, String method) {
        OutputFiles.write(file, png(r, method));
    }
}
