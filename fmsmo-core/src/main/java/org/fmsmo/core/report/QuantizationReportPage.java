package org.fmsmo.core.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantReport.LayerResult;
import org.fmsmo.core.pipeline.LayerProfile;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.fmsmo.core.pipeline.Sensitivity;

/**
 * One self-contained HTML page about a quantization run: what was run (command, method, format,
 * config), what it cost in accuracy (held-out text, before and after) and in size (bits per
 * weight), where the error is (every layer's weight and output error, as a table and a plot) and
 * where the time went. Plots are PNGs embedded as data URIs, so the file can be mailed or archived
 * alone. A small script counts the images that decoded, for the browser test.
 */
public final class QuantizationReportPage {

    /** The name the page has inside the output folder. */
    public static final String FILE = "quantization-report.html";

    /** An outlier input channel's largest |x| is at least this (LLM.int8's default threshold) … */
    static final double OUTLIER_ABS = 6.0;
    /** … and at least this many times the median channel's. */
    static final double OUTLIER_TIMES_MEDIAN = 4.0;
    /** Layer names listed per skip reason before the rest are counted. */
    private static final int MAX_NAMES = 24;

    private QuantizationReportPage() {
    }

    /** The first line of a run's summary: what quantization cost, on held-out text. */
    public static String accuracy(Map<String, Object> e) {
        if (e.get("perplexity") instanceof Number after && e.get("reference_perplexity") instanceof Number before) {
            return String.format(Locale.ROOT, "perplexity %.2f → %.2f (%+.1f%%) on %s", before.doubleValue(), after.doubleValue(),
                    100 * (after.doubleValue() / before.doubleValue() - 1), e.get("data"));
        }
        if (e.get("cosine") instanceof Number mean && e.get("cosine_min") instanceof Number min) {
            return String.format(Locale.ROOT, "cosine to the input model: mean %.4f, min %.4f over %s sentences of %s", mean.doubleValue(),
                    min.doubleValue(), e.get("sentences"), e.get("data"));
        }
        return "evaluation: " + e;
    }

    /**
     * The page for a finished run.
     *
     * @param sensitivity the ranking the run's mixed precision was chosen from, plotted; null for none
     */
    public static String html(QuantizationResult r, List<String> command, Sensitivity.Saved sensitivity) {
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fmsmo quantization report: ")
                .append(esc(r.method())).append(" → ").append(esc(String.valueOf(r.output().getFileName()))).append("</title>\n<style>")
                .append("body{font-family:sans-serif;margin:2em auto;max-width:960px;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}")
                .append("td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}th{background:#f3f3f3}")
                .append("td.n{text-align:right;font-variant-numeric:tabular-nums}code{background:#f3f3f3;padding:1px 4px}")
                .append("img{display:block;margin:.5em 0 1.5em;max-width:100%}.big{font-size:1.3em;margin:.3em 0 1em}</style>\n")
                .append("<script>window.addEventListener('load',()=>{const i=[...document.images];document.body.dataset.images=i.length;")
                .append("document.body.dataset.decoded=i.filter(x=>x.complete&&x.naturalWidth>0).length;});</script></head><body>\n");
        h.append("<h1>Quantization report</h1>\n<p><code>").append(esc(String.join(" ", command))).append("</code><br>")
                .append(esc(Instant.now().toString())).append("</p>\n");

        h.append("<h2>Accuracy</h2>\n");
        Map<String, Object> e = r.evaluation();
        if (e == null) {
            h.append("<p>Not evaluated (<code>--no-eval</code>).</p>\n");
        } else {
            h.append("<p class=\"big\">").append(esc(accuracy(e))).append("</p>\n");
            if (e.get("perplexity") instanceof Number after && e.get("reference_perplexity") instanceof Number before) {
                img(h, Charts.accuracy("perplexity", "perplexity (lower is better)", "input model", before.doubleValue(), "quantized",
                        after.doubleValue()), "perplexity of the input and the quantized model");
            } else if (e.get("cosine") instanceof Number mean && e.get("cosine_min") instanceof Number min) {
                img(h, Charts.accuracy("quantized model's embeddings: cosine to the input model's", "cosine (1 = identical embeddings)",
                        "mean", mean.doubleValue(), "minimum", min.doubleValue()), "mean and minimum cosine of the sentence embeddings");
            }
        }

        h.append("<h2>Run</h2>\n<table>");
        row(h, "method", r.method());
        row(h, "output format", r.format());
        row(h, "output", r.output().toString());
        row(h, "processed", r.streamed() ? "layer by layer (streamed)" : "whole (" + r.whyNotStreamed() + ")");
        row(h, "linear layers quantized / left in float", r.report().layers().size() + " / " + r.layersSkipped());
        if (r.attentionMatmulsQuantized() > 0) {
            row(h, "attention matmuls quantized", String.valueOf(r.attentionMatmulsQuantized()));
        }
        row(h, "calibration samples", String.valueOf(r.calibrationSamples()));
        double ratio = r.sizeBeforeBytes() / (double) Math.max(1, r.sizeAfterBytes());
        row(h, "size", String.format(Locale.ROOT, "%.1f MB (FLOAT32) → %.1f MB (%.2f× %s)", r.sizeBeforeBytes() / 1e6, r.sizeAfterBytes() / 1e6,
                ratio >= 1 ? ratio : 1 / ratio, ratio >= 1 ? "smaller" : "larger"));
        row(h, "bits per weight (all parameters, as written)", String.format(Locale.ROOT, "%.2f",
                32.0 * r.sizeAfterBytes() / Math.max(1, r.sizeBeforeBytes())));
        row(h, "wall time", String.format(Locale.ROOT, "%.1f s", r.seconds()));
        r.report().totals().forEach((k, v) -> row(h, k, String.format(Locale.ROOT, "%.6g", v)));
        h.append("</table>\n");

        plan(h, r);
        List<LayerResult> layers = r.report().layers();
        String prefix = layers.isEmpty() ? "" : commonPrefix(layers.stream().map(LayerResult::name).toList());
        if (!layers.isEmpty()) {
            h.append("<h2>Error by layer</h2>\n");
            img(h, Charts.layerErrors(layers, prefix), "relative weight and output error of every quantized layer");
            h.append("<table><tr><th>layer").append(prefix.isEmpty() ? "" : " (" + esc(prefix) + "…)").append("</th><th>spec</th>");
            List<String> keys = layers.stream().flatMap(l -> l.metrics().keySet().stream()).distinct().toList();
            keys.forEach(k -> h.append("<th>").append(esc(k)).append("</th>"));
            h.append("</tr>\n");
            for (LayerResult l : layers) {
                h.append("<tr><td>").append(esc(l.name().substring(prefix.length()))).append("</td><td>").append(esc(l.spec().toString())).append("</td>");
                keys.forEach(k -> h.append("<td class=\"n\">").append(l.metrics().containsKey(k)
                        ? String.format(Locale.ROOT, "%.5g", l.metrics().get(k)) : "").append("</td>"));
                h.append("</tr>\n");
            }
            h.append("</table>\n");
        }
        worst(h, r.worstLayers());
        if (sensitivity != null) {
            h.append("<h2>Sensitivity</h2>\n<p>Each layer quantized alone by ").append(esc(sensitivity.method())).append(" at ")
                    .append(sensitivity.bits()).append(" bits, the rest in float: how much the held-out ").append(esc(sensitivity.result().metric()))
                    .append(" moves. This run's per-layer widths were chosen from this ranking (the <em>spec</em> column above).</p>\n");
            img(h, SensitivityPlot.png(sensitivity.result(), sensitivity.method()), "per-layer sensitivity, most sensitive first");
        }

        if (!r.stageSeconds().isEmpty()) {
            h.append("<h2>Time</h2>\n");
            img(h, Charts.stages(r.stageSeconds()), "wall time of each stage");
        }

        h.append("<h2>Config</h2>\n<table>");
        r.config().settings().forEach((k, v) -> row(h, k, String.valueOf(v)));
        h.append("</table>\n</body></html>\n");
        return h.toString();
    }

    /** Writes the page through a temporary file renamed into place, so that a reader never sees half a page. */
    public static void write(Path file, String html) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, html, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the first failure is the one to report
            }
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write the report " + file + ": " + e.getMessage(), e);
        }
    }

    /** The analyzer's plan: how many linear layers were quantized, and which were left in float for what reason. */
    private static void plan(StringBuilder h, QuantizationResult r) {
        h.append("<h2>Plan</h2>\n<p>").append(r.report().layers().size()).append(" linear layers quantized, ").append(r.layersSkipped())
                .append(" left in float").append(r.layersSkipped() == 0 ? "." : ":").append("</p>\n");
        if (r.layersSkipped() == 0) {
            return;
        }
        Map<String, List<String>> byReason = new LinkedHashMap<>();
        r.skippedLayers().forEach((layer, reason) -> byReason.computeIfAbsent(reason, k -> new ArrayList<>()).add(layer));
        h.append("<table><tr><th>reason</th><th>layers</th></tr>\n");
        byReason.forEach((reason, names) -> {
            String shown = String.join(", ", names.subList(0, Math.min(names.size(), MAX_NAMES)));
            h.append("<tr><td>").append(esc(reason)).append("</td><td>").append(names.size()).append(": ").append(esc(shown))
                    .append(names.size() > MAX_NAMES ? " … " + (names.size() - MAX_NAMES) + " more" : "").append("</td></tr>\n");
        });
        h.append("</table>\n");
    }

    /** The worst layers: their input's range per channel (outlier channels marked) and their weights before and after. */
    private static void worst(StringBuilder h, List<LayerProfile> worst) {
        if (worst.isEmpty()) {
            return;
        }
        h.append("<h2>Worst layers</h2>\n<p>The ").append(worst.size()).append(" layers with the largest error. An <em>outlier channel</em>"
                + " is an input channel whose largest |x| is at least ").append(OUTLIER_ABS).append(" (LLM.int8's threshold) and at least ")
                .append(OUTLIER_TIMES_MEDIAN).append("× the median channel's (a layer whose whole input is loud has none): per-tensor or per-token activation scales are set by such"
                        + " channels, and the rest lose resolution.</p>\n");
        for (LayerProfile p : worst) {
            h.append("<h3>").append(esc(p.name())).append("</h3>\n<p>").append(esc(p.metric())).append(" ")
                    .append(String.format(Locale.ROOT, "%.5g", p.error())).append("</p>\n");
            if (p.inputAbsMax() != null && p.inputAbsMax().length > 0) {
                float[] sorted = p.inputAbsMax().clone();
                java.util.Arrays.sort(sorted);
                double median = sorted[sorted.length / 2];
                double max = sorted[sorted.length - 1];
                double threshold = Math.max(OUTLIER_ABS, OUTLIER_TIMES_MEDIAN * median);
                long outliers = java.util.stream.IntStream.range(0, sorted.length).filter(i -> sorted[i] >= threshold).count();
                h.append(String.format(Locale.ROOT, "<p>%d input channels: median max |x| %.3g, largest %.3g (%.1f× the median); %d outlier"
                        + " channel%s.</p>%n", sorted.length, median, max, median > 0 ? max / median : Double.POSITIVE_INFINITY, outliers,
                        outliers == 1 ? "" : "s"));
                img(h, Charts.inputRanges(p.name(), p.inputAbsMax(), threshold), "largest |x| of each input channel of " + p.name());
            } else {
                h.append("<p>No input ranges: the run had no calibration examples.</p>\n");
            }
            if (p.weights() != null) {
                img(h, Charts.weightHistogram(p.name(), p.weights()), "histogram of the weight of " + p.name() + " before and after quantization");
            }
        }
    }

    private static String commonPrefix(List<String> names) {
        String p = names.getFirst();
        for (String n : names) {
            int i = 0;
            while (i < p.length() && i < n.length() && p.charAt(i) == n.charAt(i)) {
                i++;
            }
            p = p.substring(0, i);
        }
        int dot = p.lastIndexOf('.');
        return names.size() > 1 && dot >= 0 ? p.substring(0, dot + 1) : "";
    }

    private static void img(StringBuilder h, byte[] png, String alt) {
        h.append("<img alt=\"").append(esc(alt)).append("\" src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(png))
                .append("\">\n");
    }

    private static void row(StringBuilder h, String key, String value) {
        h.append("<tr><th>").append(esc(key)).append("</th><td>").append(esc(value)).append("</td></tr>\n");
    }

    private static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
