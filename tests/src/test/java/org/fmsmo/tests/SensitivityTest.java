package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Sensitivity;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Test;

/**
 * {@code fmsmo sensitivity} ranks every linear layer of a decoder (the head excepted) by the
 * perplexity cost of quantizing it alone; an interrupted ranking (its journal cut short) continues
 * with the missing layers only and ends with the same numbers; a journal of other settings is
 * refused; and {@code quantize --target-bits --sensitivity} writes a mixed-precision
 * compressed-tensors checkpoint whose groups {@code fmsmo eval} loads back to the run's perplexity.
 */
class SensitivityTest {

    private static final ModelShape SHAPE = new ModelShape("sens-llama", "llama", "LlamaForCausalLM", 512, 128, 256, 1, 4, 2, false, false,
            10000.0, 256, 1e-5, null);

    record Run(int exit, String out, String err) {
    }

    private static Run fmsmo(Path work, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Fixtures.distribution().resolve("bin/fmsmo").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("FMSMO_CACHE_DIR", Fixtures.property("fmsmo.work").resolve("cache").toString());
        Path out = Files.createTempFile(work, "out", ".txt");
        Path err = Files.createTempFile(work, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "fmsmo " + String.join(" ", args) + " did not finish in 300 s");
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    /**
     * A decoder is ranked block by block ({@code StreamedSensitivity}: one block in memory, the
     * held-out and calibration hidden states walked through the float blocks once); the numbers
     * equal those of a whole {@code Quantization} run per layer, which writes the one-layer model
     * and evaluates it, to float rounding (1e-5 of the perplexity), for a calibrated method (GPTQ)
     * on a two-block model with grouped heads.
     */
    @Test
    void blockByBlockRankingEqualsWholeRunsPerLayer() throws Exception {
        Path work = Fixtures.freshDir("sensitivity-streamed");
        Path model = llama(work, 2, 9);
        Path text = Files.writeString(work.resolve("held-out.txt"), words(1200));
        java.util.Map<String, Object> w3 = w3("maxfullperGp");
        try (PluginRegistry registry = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            java.util.function.Function<String, Sensitivity> of = name -> Sensitivity.of(model).method("gptq").set(w3)
                    .calibration(CalibrationSource.random(8, 32, 4, 3)).evaluate(text).journal(work.resolve(name)).plugins(registry);
            Sensitivity.Result streamed = of.apply("streamed.json").run();
            Sensitivity.Result whole = of.apply("whole.json").streaming(Streaming.OFF).run();
            assertEquals(14, streamed.layers().size(), "7 linear layers in each of 2 blocks");
            assertEquals(whole.reference(), streamed.reference(), 1e-5 * whole.reference(), "the float model's perplexity");
            for (int i = 0; i < whole.layers().size(); i++) {
                Sensitivity.Layer a = whole.layers().get(i);
                Sensitivity.Layer b = streamed.layers().get(i);
                assertEquals(a.name(), b.name());
                assertEquals(a.parameters(), b.parameters());
                assertEquals(a.metric(), b.metric(), 1e-5 * a.metric(), a.name());
                assertTrue(a.metric() != whole.reference(), a.name() + " was not quantized");
            }
        }
        try (var left = Files.list(work)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(".sensitivity-")), "no work folder left behind");
        }
    }

    /**
     * {@code --metric kl}: each layer's mean KL divergence of the next-token distributions from the
     * float model's equals one computed here in double from the logits of the float model and of
     * the whole-run model with that layer quantized (1e-3 relative: float logits, other batching).
     */
    @Test
    void klDivergenceEqualsOneFromBothModelsLogits() throws Exception {
        Path work = Fixtures.freshDir("sensitivity-kl");
        Path model = llama(work, 1, 4);
        Path text = Files.writeString(work.resolve("held-out.txt"), words(700));
        java.util.Map<String, Object> w3 = w3("maxperGp");
        try (PluginRegistry registry = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            Sensitivity.Result r = Sensitivity.of(model).method("rtn").set(w3).evaluate(text).journal(work.resolve("kl.json")).plugins(registry)
                    .klDivergence(true).run();
            assertEquals("kl", r.metric());
            for (String layer : List.of("model.layers.0.self_attn.v_proj", "model.layers.0.mlp.down_proj")) {
                java.util.Map<String, Object> s = new java.util.HashMap<>(w3);
                s.put("qlayer_name_pattern", List.of("^" + java.util.regex.Pattern.quote(layer) + "$"));
                Path out = work.resolve("one-" + layer);
                org.fmsmo.core.pipeline.Quantization.of(model).method("rtn").set(s).format("fms").output(out).plugins(registry).run();
                double expected = klFromLogits(model, out, text, registry);
                double measured = r.layers().stream().filter(l -> l.name().equals(layer)).findFirst().orElseThrow().loss();
                assertTrue(expected > 0, layer);
                assertEquals(expected, measured, 1e-3 * expected, layer);
            }
        }
    }

    /** Mean over the held-out windows' tokens of Σ_v p_float(v) log(p_float(v) / p_quantized(v)), in double, window by window. */
    private static double klFromLogits(Path floatModel, Path quantized, Path text, PluginRegistry registry) throws Exception {
        org.fmsmo.core.checkpoint.ModelLoader loader = new org.fmsmo.core.checkpoint.ModelLoader(registry);
        long[] ids;
        try (org.fmsmo.core.hf.HfTokenizer tok = org.fmsmo.core.hf.HfTokenizer.open(floatModel)) {
            ids = org.fmsmo.core.eval.Evaluator.tokens(tok, text, Long.MAX_VALUE);
        }
        int window = 128;
        int windows = (ids.length - window - 1) / window + 1;
        double kl = 0;
        try (var f = (org.fmsmo.core.model.CausalLM) loader.load(floatModel); var q = (org.fmsmo.core.model.CausalLM) loader.load(quantized)) {
            for (int k = 0; k < windows; k++) {
                long[] in = java.util.Arrays.copyOfRange(ids, k * window, k * window + window);
                try (ai.djl.ndarray.NDManager m = f.manager().newSubManager()) {
                    ai.djl.ndarray.NDArray x = m.create(in, new ai.djl.ndarray.types.Shape(1, window));
                    float[] lf = f.logits(x).toFloatArray();
                    float[] lq = q.logits(x).toFloatArray();
                    int vocab = lf.length / window;
                    for (int t = 0; t < window; t++) {
                        double zf = logSumExp(lf, t * vocab, vocab);
                        double zq = logSumExp(lq, t * vocab, vocab);
                        for (int v = 0; v < vocab; v++) {
                            double pf = lf[t * vocab + v] - zf;
                            kl += Math.exp(pf) * (pf - (lq[t * vocab + v] - zq));
                        }
                    }
                }
            }
        }
        return kl / ((double) windows * window);
    }

    private static double logSumExp(float[] a, int from, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, a[from + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(a[from + i] - max);
        }
        return max + Math.log(sum);
    }

    /** A synthetic Llama (GQA, untied head) of {@code blocks} blocks in {@code work/model}. */
    private static Path llama(Path work, int blocks, long seed) throws Exception {
        ModelShape shape = new ModelShape("sens-llama-" + blocks, "llama", "LlamaForCausalLM", 512, 128, 256, blocks, 4, 2, false, false, 10000.0,
                256, 1e-5, null);
        return SyntheticModel.write(work.resolve("model"), shape, seed, SyntheticModel.HUB_SHARD_BYTES);
    }

    /** 3-bit weights in groups of 32 with the weight mode {@code mode}. */
    private static java.util.Map<String, Object> w3(String mode) {
        return java.util.Map.of("qw_spec", "int3-sym-group32", "qw_mode", mode, "nbits_a", 32, "nbits_w", 3);
    }

    private static String[] concat(String[] a, String... b) {
        return java.util.stream.Stream.concat(java.util.Arrays.stream(a), java.util.Arrays.stream(b)).toArray(String[]::new);
    }

    private static String words(int n) {
        StringBuilder words = new StringBuilder();
        for (int i = 0; i < n; i++) {
            words.append('w').append((i * 7) % 500).append(i % 29 == 28 ? "\n" : " ");
        }
        return words.toString();
    }

    @Test
    void rankingResumesAndDrivesAMixedPrecisionCheckpoint() throws Exception {
        Path work = Fixtures.freshDir("sensitivity");
        Path model = SyntheticModel.write(work.resolve("model"), SHAPE, 5, SyntheticModel.HUB_SHARD_BYTES);
        Path text = Files.writeString(work.resolve("held-out.txt"), words(1500));
        Path ranking = work.resolve("ranking.json");
        String[] sensitivity = {"sensitivity", "--model", model.toString(), "--method", "rtn", "--bits", "3", "--group-size", "32",
            "--eval-data", text.toString(), "--output", ranking.toString(), "--quiet"};
        Run first = fmsmo(work, sensitivity);
        assertEquals(0, first.exit(), first.err());
        ObjectMapper json = new ObjectMapper();
        JsonNode full = json.readTree(ranking.toFile());
        assertEquals(7, full.get("layers").size(), "q, k, v, o, gate, up, down of the one block; lm_head stays out");
        assertEquals("perplexity", full.get("metric").asText());
        for (JsonNode l : full.get("layers")) {
            assertTrue(Double.isFinite(l.get("loss").asDouble()) && l.get("parameters").asLong() > 0, l.toString());
        }
        assertTrue(first.out().contains("rank") && first.out().contains("model.layers.0.mlp.down_proj"), first.out());
        assertTrue(Files.size(work.resolve("ranking.png")) > 1000, "the plot");
        assertTrue(Files.list(work).noneMatch(p -> p.getFileName().toString().startsWith(".sensitivity-")), "no work folder left behind");

        // Interrupted after four layers: the run continues with the other three and ends with the same numbers.
        ObjectNode cut = (ObjectNode) full.deepCopy();
        ArrayNode layers = (ArrayNode) cut.get("layers");
        while (layers.size() > 4) {
            layers.remove(layers.size() - 1);
        }
        json.writeValue(ranking.toFile(), cut);
        Run resumed = fmsmo(work, sensitivity);
        assertEquals(0, resumed.exit(), resumed.err());
        assertEquals(full.get("layers"), json.readTree(ranking.toFile()).get("layers"), "the resumed ranking equals the uninterrupted one");

        String[] other = sensitivity.clone();
        other[6] = "4"; // --bits 4 against a journal measured at 3
        Run refused = fmsmo(work, other);
        assertEquals(2, refused.exit(), refused.err());
        assertTrue(refused.err().startsWith("error: ") && refused.err().contains("another run"), refused.err());

        Path mixed = work.resolve("mixed");
        Run q = fmsmo(work, "quantize", "--model", model.toString(), "--method", "rtn", "--bits", "4", "--group-size", "32", "--target-bits", "4.5",
                "--mixed-widths", "2,4,8", "--sensitivity", ranking.toString(), "--format", "compressed-tensors", "--eval-data", text.toString(),
                "--output", mixed.toString(), "--json", "--quiet");
        assertEquals(0, q.exit(), q.err());
        assertTrue(q.err().contains("mixed precision: "), q.err());
        JsonNode groups = json.readTree(mixed.resolve("config.json").toFile()).get("quantization_config").get("config_groups");
        assertTrue(groups.size() >= 2, "one config group per width: " + groups);
        double inRun = json.readTree(q.out()).get("evaluation").get("perplexity").asDouble();
        Run eval = fmsmo(work, "eval", "--model", mixed.toString(), "--data", text.toString(), "--json", "--quiet");
        assertEquals(0, eval.exit(), eval.err());
        assertEquals(inRun, json.readTree(eval.out()).get("perplexity").asDouble(), 1e-9 * inRun, "the mixed checkpoint loads back as it was run");

        // --target-size: the uniform 4-bit checkpoint's size spent on widths 2, 4, 8 is written within it (and not far under)
        String[] w4 = {"quantize", "--model", model.toString(), "--method", "rtn", "--bits", "4", "--group-size", "32", "--format",
            "compressed-tensors", "--no-eval", "--json", "--quiet", "--force"};
        Run uniform = fmsmo(work, concat(w4, "--output", work.resolve("uniform").toString()));
        assertEquals(0, uniform.exit(), uniform.err());
        long size = json.readTree(uniform.out()).get("size_after_bytes").asLong();
        Run sized = fmsmo(work, concat(w4, "--output", work.resolve("sized").toString(), "--target-size", String.valueOf(size), "--mixed-widths",
                "2,4,8", "--sensitivity", ranking.toString()));
        assertEquals(0, sized.exit(), sized.err());
        long written = json.readTree(sized.out()).get("size_after_bytes").asLong();
        assertTrue(written <= size && written > 0.95 * size, written + " bytes written for a target of " + size);
        Run tooSmall = fmsmo(work, concat(w4, "--output", work.resolve("small").toString(), "--target-size", "10kB", "--mixed-widths", "2,4,8",
                "--sensitivity", ranking.toString()));
        assertEquals(2, tooSmall.exit(), tooSmall.err());
        assertTrue(tooSmall.err().contains("error: --target-size 10000 bytes: expected from "), tooSmall.err());
        assertFalse(Files.exists(work.resolve("small")), "nothing written");
    }
}
