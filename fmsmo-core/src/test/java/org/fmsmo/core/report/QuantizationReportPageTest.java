package org.fmsmo.core.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.core.pipeline.LayerProfile;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report page from a result made here: its sections, its escaping, and that every plot is a real PNG. */
class QuantizationReportPageTest {

    private static QuantizationResult result(Map<String, Object> evaluation) {
        QuantSpec spec = QuantSpec.parse("int4-sym-g128");
        List<QuantReport.LayerResult> layers = List.of(
                new QuantReport.LayerResult("model.layers.0.self_attn.q_proj", spec, Map.of("weight_rel_error", 0.12, "output_rel_error", 0.05)),
                new QuantReport.LayerResult("model.layers.0.mlp.down_proj", spec, Map.of("weight_rel_error", 0.21)));
        Map<String, Double> stages = new LinkedHashMap<>();
        stages.put("load", 1.5);
        stages.put("quantize", 12.25);
        return new QuantizationResult("gptq", "compressed-tensors", Path.of("/tmp/out<1>"), true, null,
                new QuantReport("gptq", layers, 13.75), Map.of("lm_head", "output head (qskip_lm_head)"), 0, 64, 14.0, stages, 4_000_000L,
                1_000_000L, new QuantConfig(Map.of("qskip_layer_name", List.of("lm_head"), "note", "a<b & \"c\"")), 0, evaluation,
                List.of(profile()));
    }

    /** A layer whose channel 5 of 64 is an outlier (40 against a median of 1), with a bell of weights and its 16 quantized levels. */
    private static LayerProfile profile() {
        float[] ranges = new float[64];
        java.util.Arrays.fill(ranges, 1f);
        ranges[5] = 40f;
        long[] before = new long[120];
        long[] after = new long[120];
        for (int i = 0; i < before.length; i++) {
            before[i] = Math.round(1000 * Math.exp(-Math.pow((i - before.length / 2.0) / 12, 2)));
            if (i % 8 == 0) {
                after[i] = 8 * before[i];
            }
        }
        return new LayerProfile("model.layers.0.mlp.down_proj", "weight_rel_error", 0.21, ranges,
                new LayerProfile.Histogram(-0.5, 0.5, before, after));
    }

    @Test
    void perplexityRunHasEverySectionAndThreePlots() {
        Map<String, Object> eval = Map.of("perplexity", 125.13, "reference_perplexity", 123.14, "data", "held-out.txt");
        String html = QuantizationReportPage.html(result(eval), List.of("fmsmo", "quantize", "--method", "gptq"), null);
        assertTrue(html.contains("perplexity 123.14 → 125.13 (+1.6%) on held-out.txt"), html);
        assertTrue(html.contains("<code>fmsmo quantize --method gptq</code>"), "the command");
        assertTrue(html.contains("4.0 MB (FLOAT32) → 1.0 MB (4.00× smaller)") && html.contains("<td>8.00</td>"), "size and bits per weight");
        assertTrue(html.contains("(model.layers.0.…)") && html.contains("<td>self_attn.q_proj</td>"), "layer names without their common prefix");
        assertTrue(html.contains("/tmp/out&lt;1&gt;") && html.contains("a&lt;b &amp; &quot;c&quot;"), "text is escaped");
        assertFalse(html.contains("a<b"), "nothing unescaped");
        Matcher m = Pattern.compile("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(html);
        int images = 0;
        while (m.find()) {
            byte[] png = Base64.getDecoder().decode(m.group(1));
            assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "a PNG");
            images++;
        }
        assertEquals(5, images, "accuracy, error by layer, the worst layer's input ranges and weight histogram, time");
        assertTrue(html.contains("<td>output head (qskip_lm_head)</td><td>1: lm_head</td>"), "a skipped layer with its reason");
        assertTrue(html.contains("2 linear layers quantized, 1 left in float:"), "the plan's counts");
        assertTrue(html.contains("64 input channels: median max |x| 1.00, largest 40.0 (40.0× the median); 1 outlier channel."), html);
    }

    @Test
    void aMixedPrecisionRunPlotsItsSensitivityRanking() {
        var ranking = new org.fmsmo.core.pipeline.Sensitivity.Result("perplexity", 123.14, List.of(
                new org.fmsmo.core.pipeline.Sensitivity.Layer("model.layers.0.mlp.down_proj", 4096, 124.0, 0.007),
                new org.fmsmo.core.pipeline.Sensitivity.Layer("model.layers.0.self_attn.q_proj", 4096, 123.2, 0.0005)));
        String html = QuantizationReportPage.html(result(null), List.of("fmsmo"),
                new org.fmsmo.core.pipeline.Sensitivity.Saved(ranking, 3, "gptq"));
        assertTrue(html.contains("<h2>Sensitivity</h2>\n<p>Each layer quantized alone by gptq at 3 bits"), html);
        assertEquals(5, Pattern.compile("data:image/png;base64,").matcher(html).results().count(), "error by layer, worst layer ×2, sensitivity, time");
    }

    @Test
    void withoutEvaluationThePageSaysSo(@TempDir Path dir) throws Exception {
        String html = QuantizationReportPage.html(result(null), List.of("fmsmo"), null);
        assertTrue(html.contains("Not evaluated (<code>--no-eval</code>)."), html);
        Path file = dir.resolve("r.html");
        QuantizationReportPage.write(file, html);
        assertEquals(html, Files.readString(file));
        try (var left = Files.list(dir)) {
            assertEquals(1, left.count(), "no temporary file is left");
        }
        FmsmoException e = assertThrows(FmsmoException.class, () -> QuantizationReportPage.write(dir.resolve("missing/r.html"), html));
        assertTrue(e.getMessage().startsWith("cannot write the report "), e.getMessage());
    }
}
