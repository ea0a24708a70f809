package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Runs the assembled distribution's {@code bin/fmsmo} as a user would, on a private copy whose
 * {@code plugins/} folder the tests change.
 */
class DistributionCliTest {

    private Path home;

    record Result(int exit, String out, String err) {
    }

    @BeforeEach
    void copyDistribution() throws IOException {
        home = Fixtures.freshDir("dist-" + System.nanoTime());
        Fixtures.copyTree(Fixtures.distribution(), home);
    }

    private Result fmsmo(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(home.resolve("bin/fmsmo").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("FMSMO_CACHE_DIR", Fixtures.property("fmsmo.work").resolve("cache").toString());
        Path out = Files.createTempFile(home, "out", ".txt");
        Path err = Files.createTempFile(home, "err", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "fmsmo " + String.join(" ", args) + " did not finish in 120 s");
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    private JsonNode pluginsJson(String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("plugins", "--json"));
        args.addAll(List.of(extra));
        Result r = fmsmo(args.toArray(String[]::new));
        assertEquals(0, r.exit(), "exit status; stderr: " + r.err());
        return new ObjectMapper().readTree(r.out());
    }

    private static JsonNode plugin(JsonNode root, String id) {
        for (JsonNode p : root.get("plugins")) {
            if (p.get("id").asText().equals(id)) {
                return p;
            }
        }
        return null;
    }

    private static List<String> names(JsonNode plugin) {
        List<String> names = new ArrayList<>();
        plugin.get("provides").forEach(n -> names.add(n.get("kind").asText() + ":" + n.get("name").asText()));
        return names;
    }

    @Test
    void listsTheBundledPlugins() throws Exception {
        JsonNode root = pluginsJson();
        assertEquals("1.9.0", root.get("spi_version").asText());
        JsonNode rtn = plugin(root, "rtn");
        assertEquals("active", rtn.get("status").asText());
        assertEquals("plugins dir", rtn.get("source").asText());
        assertEquals(List.of("quant-method:rtn"), names(rtn));
        JsonNode cpu = plugin(root, "cpu-reference");
        assertEquals(List.of("deploy-backend:cpu-reference"), names(cpu));
        assertEquals("active", cpu.get("status").asText());
        JsonNode core = plugin(root, "fmsmo-core");
        assertEquals("built-in", core.get("source").asText());
        assertTrue(names(core).contains("layer-wrapper:qlinear"), names(core).toString());
        assertEquals(0, root.get("problems").size(), root.get("problems").toString());
    }

    @Test
    void aDroppedJarAppearsOnTheNextRunAndDisappearsWhenRemoved() throws Exception {
        Path dropped = home.resolve("plugins/stochastic-rtn.jar");
        Files.copy(Fixtures.fixtureJar("stochastic-rtn"), dropped);
        JsonNode p = plugin(pluginsJson(), "stochastic-rtn");
        assertEquals("plugins dir", p.get("source").asText());
        assertEquals("active", p.get("status").asText());
        assertEquals("1.2.0", p.get("version").asText());
        assertEquals(List.of("quant-method:stochastic-rtn"), names(p));

        Files.delete(dropped);
        assertEquals(null, plugin(pluginsJson(), "stochastic-rtn"));
    }

    /**
     * A third-party plugin's config key (stochastic-rtn's {@code seed}) is listed under its plugin,
     * accepted through --set and recipe files and checked like the host's, and unknown once the
     * plugin is gone.
     */
    @Test
    void aThirdPartyPluginsConfigKeyWorksInRecipesAndSet() throws Exception {
        Path dropped = home.resolve("plugins/stochastic-rtn.jar");
        Files.copy(Fixtures.fixtureJar("stochastic-rtn"), dropped);
        Result keys = fmsmo("recipes", "--keys", "--json");
        assertEquals(0, keys.exit(), keys.err());
        JsonNode seed = new ObjectMapper().readTree(keys.out()).get("stochastic-rtn").get(0);
        assertEquals("seed", seed.get("name").asText(), keys.out());
        assertEquals("int", seed.get("type").asText());
        JsonNode gptq = new ObjectMapper().readTree(keys.out()).get("gptq");
        assertTrue(gptq.toString().contains("damp_percent"), "GPTQ's keys are its plugin's: " + keys.out());

        Result set = fmsmo("recipes", "ptq_int8", "--set", "seed=7", "--json");
        assertEquals(0, set.exit(), set.err());
        assertEquals(7, new ObjectMapper().readTree(set.out()).get("seed").asInt(), set.out());
        Path recipe = Files.writeString(home.resolve("seeded.json"), "{\"description\": \"seeded\", \"config\": {\"nbits_w\": 4, \"seed\": 11}}");
        Result file = fmsmo("recipes", recipe.toString(), "--json");
        assertEquals(0, file.exit(), file.err());
        assertEquals(11, new ObjectMapper().readTree(file.out()).get("seed").asInt(), file.out());
        Result bad = fmsmo("recipes", "ptq_int8", "--set", "seed=-1");
        assertEquals(2, bad.exit(), bad.err());
        assertTrue(bad.err().startsWith("error: ") && bad.err().contains("'seed' must be an integer"), bad.err());

        Files.delete(dropped);
        Result gone = fmsmo("recipes", "ptq_int8", "--set", "seed=7");
        assertEquals(2, gone.exit(), gone.err());
        assertTrue(gone.err().contains("unknown config key 'seed'"), gone.err());
    }

    @Test
    void brokenPluginsAreSkippedWithTheirReasonAndTheHostKeepsWorking() throws Exception {
        for (String f : List.of("throwing-constructor", "future-spi", "duplicate-name", "no-descriptor")) {
            Files.copy(Fixtures.fixtureJar(f), home.resolve("plugins/" + f + ".jar"));
        }
        Files.copy(Fixtures.notAJar(), home.resolve("plugins/not-a-jar.jar"));
        JsonNode root = pluginsJson();

        assertSkipped(root, "throwing-constructor", "failed to construct", "licence check failed");
        assertSkipped(root, "future-spi", "requires fmsmo SPI >=2.0.0 & <3.0.0 but this host provides SPI 1.9.0");
        assertSkipped(root, "duplicate-name", "duplicate quant-method name 'rtn'", home.resolve("plugins/rtn").toString(),
                home.resolve("plugins/duplicate-name.jar").toString());
        assertSkipped(root, "no-descriptor", "no plugin descriptor", "Plugin-Id");
        assertSkipped(root, "not-a-jar", "not a readable jar", "not-a-jar.jar");
        assertEquals("active", plugin(root, "rtn").get("status").asText(), "the first 'rtn' stays in use");
        assertEquals(5, root.get("problems").size(), root.get("problems").toString());

        Result table = fmsmo("plugins");
        assertEquals(0, table.exit());
        assertTrue(table.out().contains("5 problem(s)"), table.out());
    }

    /** --probe starts each available backend once and prints what it chose; unavailable ones are only listed. */
    @Test
    void probeReportsWhatEachAvailableBackendChose() throws Exception {
        Result table = fmsmo("plugins", "--probe");
        assertEquals(0, table.exit(), table.err());
        assertTrue(table.out().contains("int8_kernel: "), "cpu-reference's diagnostics: " + table.out());
        JsonNode root = new ObjectMapper().readTree(fmsmo("plugins", "--json", "--probe").out());
        for (JsonNode b : root.get("backends")) {
            if (b.get("available").asBoolean()) {
                assertTrue(b.has("probe"), b.toString());
            } else {
                assertTrue(!b.has("probe") && !b.get("reason").asText().isEmpty(), b.toString());
            }
            if (b.get("name").asText().equals("cpu-reference")) {
                assertTrue(b.get("probe").has("int8_kernel"), b.toString());
            }
        }
    }

    @Test
    void strictModeTurnsSkippedPluginsIntoAFailure() throws Exception {
        assertEquals(0, fmsmo("plugins", "--strict").exit(), "no problems: strict passes");
        Files.copy(Fixtures.fixtureJar("future-spi"), home.resolve("plugins/future-spi.jar"));
        Result r = fmsmo("plugins", "--json", "--strict");
        assertEquals(3, r.exit(), r.err());
        assertTrue(r.err().contains("future-spi") && r.err().contains("strict"), r.err());
    }

    private static Path sharedFixtures() {
        Path shared = Fixtures.property("fmsmo.shared").resolve("fixtures");
        if (!Files.isDirectory(shared.resolve("tiny-llama"))) {
            String reason = "skipped: " + shared + " is absent (../shared is not mounted)";
            System.out.println(reason); // visible in the build log, not only in Surefire's reports
            org.junit.jupiter.api.Assumptions.abort(reason);
        }
        return shared;
    }

    /** The acceptance command: the reference perplexity of tiny-llama on eval.txt, as JSON. */
    @Test
    void evalPrintsTheReferencePerplexityOfTinyLlama() throws Exception {
        Path shared = sharedFixtures();
        Result r = fmsmo("eval", "--model", shared.resolve("tiny-llama").toString(), "--data", shared.resolve("text/eval.txt").toString(),
                "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out());
        double expected = new ObjectMapper().readTree(shared.resolve("tiny-llama/reference.json").toFile()).at("/perplexity/value").asDouble();
        assertEquals(expected, json.get("perplexity").asDouble(), expected * 1e-4);
        assertEquals(87_296, json.get("tokens").asLong());
        assertTrue(json.get("tokens_per_second").asDouble() > 0 && json.get("model_bytes").asLong() > 3_900_000, r.out());
        assertTrue(r.err().contains("perplexity: ") && r.err().contains("tokens/s"), "progress lines on stderr: " + r.err());
    }

    /** The analyzer's trace of tiny-llama: 28 linears to quantize, lm_head skipped, 8 attention matmuls, q/k/v and gate/up foldable. */
    @Test
    void analyzeTinyLlamaFindsLinearsMatmulsAndFoldableNorms() throws Exception {
        Path shared = sharedFixtures();
        Result r = fmsmo("analyze", "--model", shared.resolve("tiny-llama").toString(), "--set", "QBmm=true", "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out());
        int linears = 0;
        int bmms = 0;
        for (JsonNode l : json.get("layers")) {
            boolean q = l.get("action").asText().equals("quantize");
            if (l.get("kind").asText().equals("linear") && q) {
                linears++;
            } else if (l.get("kind").asText().equals("bmm") && q) {
                bmms++;
            } else {
                assertEquals("lm_head", l.get("name").asText(), "only lm_head is skipped");
            }
        }
        assertEquals(28, linears);
        assertEquals(8, bmms);
        assertTrue(r.out().contains("\"model.layers.0.self_attn.q_proj\""), r.out());
        int norms = 0;
        int linearProducers = 0;
        for (JsonNode g : json.get("input_groups")) {
            String producer = g.get("producer").asText();
            if (!producer.startsWith("model.layers.")) {
                continue; // model.norm → lm_head
            }
            if (g.get("foldable").asBoolean() && producer.endsWith("layernorm")) {
                norms++;
                assertTrue(g.get("layers").size() == 3 || g.get("layers").size() == 2, g.toString());
            } else if (g.get("foldable").asBoolean()) {
                linearProducers++;
                assertTrue(producer.endsWith("mlp.up_proj") && g.get("layers").get(0).asText().endsWith("mlp.down_proj"), g.toString());
            }
        }
        assertEquals(8, norms, "input_layernorm → q/k/v and post_attention_layernorm → gate/up in 4 layers");
        // o_proj's input is not foldable: tiny-llama's grouped heads repeat v_proj's channels.
        assertEquals(4, linearProducers, "up_proj → down_proj through the gate in 4 layers");
    }

    /** dq and ptq W8A8 on tiny-llama, written in the native format and evaluated after reloading it. */
    @Test
    void quantizeTinyLlamaWithDqAndPtqThenEvaluateTheNativeCheckpoint() throws Exception {
        Path shared = sharedFixtures();
        double fp32 = new ObjectMapper().readTree(shared.resolve("tiny-llama/reference.json").toFile()).at("/perplexity/value").asDouble();
        for (String method : List.of("dq", "ptq")) {
            Path out = home.resolve("q-" + method);
            Result q = fmsmo("quantize", "--model", shared.resolve("tiny-llama").toString(), "--method", method, "--calibration",
                    shared.resolve("text/calib.txt").toString(), "--num-samples", "32", "--output", out.toString(), "--json");
            assertEquals(0, q.exit(), q.err());
            assertEquals(28, new ObjectMapper().readTree(q.out()).get("layers_quantized").asInt(), q.out());
            assertTrue(Files.isRegularFile(out.resolve("fms_quant_config.json")) && Files.isRegularFile(out.resolve("fms_quant_layers.json")));
            Result e = fmsmo("eval", "--model", out.toString(), "--data", shared.resolve("text/eval.txt").toString(), "--json");
            assertEquals(0, e.exit(), e.err());
            double ppl = new ObjectMapper().readTree(e.out()).get("perplexity").asDouble();
            double bound = method.equals("dq") ? 1.02 : 1.05;
            assertTrue(ppl > fp32 && ppl < fp32 * bound, method + " perplexity " + ppl + " vs FP32 " + fp32);
        }
    }

    /** Extracts all-MiniLM-L6-v2 from the test class path and imports it with the CLI, as a user would. */
    private Path importMiniLm() throws Exception {
        Path work = home.resolve("minilm-src");
        Files.createDirectories(work);
        for (String name : List.of("all-minilm-l6-v2.onnx", "all-minilm-l6-v2-tokenizer.json")) {
            try (var in = getClass().getClassLoader().getResourceAsStream(name)) {
                assertTrue(in != null, name + " is not on the test class path");
                Files.copy(in, work.resolve(name));
            }
        }
        Path model = home.resolve("minilm");
        Result r = fmsmo("import-onnx", "--onnx", work.resolve("all-minilm-l6-v2.onnx").toString(), "--tokenizer",
                work.resolve("all-minilm-l6-v2-tokenizer.json").toString(), "--output", model.toString());
        assertEquals(0, r.exit(), r.err());
        return model;
    }

    /**
     * The onnxruntime backend (plugins/onnx, with ONNX Runtime in its own lib/) runs a W8A8 MiniLM's
     * 36 linears as MatMulInteger sessions: each layer equals its simulated one to float rounding
     * on both backends (both compute the int32 products exactly), and the embeddings agree.
     */
    @Test
    void onnxRuntimeRunsW8a8LayersAsCpuReferenceDoes() throws Exception {
        Path model = importMiniLm();
        Path sentences = home.resolve("sentences.txt");
        Files.write(sentences, List.of("The quick brown fox jumps over the lazy dog.", "Quantized models store their weights in fewer bits.",
                "ONNX Runtime runs integer kernels on the CPU.", "A cat slept on the warm windowsill all afternoon.",
                "The museum reopened after a long renovation.", "Prices rose sharply over the last year."));
        Path dq = home.resolve("minilm-dq");
        Result q = fmsmo("quantize", "--model", model.toString(), "--method", "dq", "--set", "smoothq=false", "--calibration", sentences.toString(),
                "--no-eval", "--output", dq.toString());
        assertEquals(0, q.exit(), q.err());
        Map<String, Double> cosine = new java.util.LinkedHashMap<>();
        for (String backend : List.of("onnxruntime", "cpu-reference")) {
            Result e = fmsmo("eval", "--model", dq.toString(), "--reference", model.toString(), "--data", sentences.toString(), "--backend", backend,
                    "--check-layers", "--json");
            assertEquals(0, e.exit(), e.err());
            JsonNode r = new ObjectMapper().readTree(e.out());
            assertEquals(36, r.get("backend_layers").asInt(), backend + ": every linear on the backend; " + e.out());
            double layer = r.get("layer_check").get("max_relative_error").asDouble();
            assertTrue(layer <= 1e-6, backend + ": each layer equals the simulated one to float rounding (exact int32 products), found " + layer);
            cosine.put(backend, r.get("cosine").asDouble());
        }
        // The two rescale the exact sums in different orders ((acc·s_w)·s_x in ONNX Runtime's fused epilogue, (acc·s_x)·s_w on
        // cpu-reference); last-bit differences move an occasional code of a later layer's input by one step.
        assertEquals(cosine.get("cpu-reference"), cosine.get("onnxruntime"), 1e-4, "the same model on both: " + cosine);
        // bench runs the float model, the quantized one simulated and the same one on the backend over the sentences
        Path json = home.resolve("forward.json");
        Result b = fmsmo("bench", "--model", model.toString(), "--model", dq.toString(), "--backend", "onnxruntime", "--data", sentences.toString(),
                "--warmup", "0", "--iterations", "1", "--output", json.toString());
        assertEquals(0, b.exit(), b.err());
        JsonNode forward = new ObjectMapper().readTree(json.toFile()).get("forward");
        assertEquals(List.of("float", "simulated", "onnxruntime"), List.of(forward.get(0).get("run_on").asText(),
                forward.get(1).get("run_on").asText(), forward.get(2).get("run_on").asText()), forward.toString());
        assertEquals(36, forward.get(2).get("backend_layers").asInt(), forward.toString());
        long tokens = forward.get(0).get("tokens").asLong();
        assertTrue(tokens > 6 * 5 && forward.get(2).get("tokens").asLong() == tokens, "the sentences' own tokens, the same for each: " + forward);
        assertTrue(forward.get(2).get("speed_vs_first").asDouble() > 0 && b.out().contains("vs 1st"), b.out());
    }

    /** --quiet leaves stderr without progress lines or notes; the result on stdout is the same. */
    @Test
    void quietEvalPrintsNoProgress() throws Exception {
        Path shared = sharedFixtures();
        List<String> args = List.of("eval", "--model", shared.resolve("tiny-llama").toString(), "--data", shared.resolve("text/eval.txt").toString(), "--json");
        Result loud = fmsmo(args.toArray(String[]::new));
        List<String> quietArgs = new java.util.ArrayList<>(args);
        quietArgs.add("--quiet");
        Result quiet = fmsmo(quietArgs.toArray(String[]::new));
        assertEquals(0, loud.exit(), loud.err());
        assertEquals(0, quiet.exit(), quiet.err());
        assertTrue(loud.err().contains("tokens/s") || loud.err().contains("windows"), "progress lines without --quiet: " + loud.err());
        assertFalse(quiet.err().lines().anyMatch(l -> l.contains("/s") || l.startsWith("note:")), "no progress with --quiet: " + quiet.err());
        assertEquals(new ObjectMapper().readTree(loud.out()).get("perplexity"), new ObjectMapper().readTree(quiet.out()).get("perplexity"));
    }

    /** The analyzer on the encoder: 6 layers × (q, k, v, output, intermediate, output) = 36 linears, 6 × 2 matmuls, no foldable norm. */
    @Test
    void analyzeMiniLmFinds36LinearsAnd12Matmuls() throws Exception {
        Path model = importMiniLm();
        Result r = fmsmo("analyze", "--model", model.toString(), "--set", "QBmm=true", "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out());
        int linears = 0;
        int bmms = 0;
        for (JsonNode l : json.get("layers")) {
            assertEquals("quantize", l.get("action").asText(), l.toString());
            if (l.get("kind").asText().equals("linear")) {
                linears++;
            } else {
                bmms++;
            }
        }
        assertEquals(36, linears);
        assertEquals(12, bmms);
        assertTrue(r.out().contains("\"encoder.layer.0.attention.self.query\""), r.out());
        for (JsonNode g : json.get("input_groups")) {
            // BERT's post-norms also feed the residual; only the attention output's input passes the value channels through.
            boolean valueToOutput = g.get("producer").asText().endsWith("attention.self.value")
                    && g.get("layers").get(0).asText().endsWith("attention.output.dense");
            assertEquals(valueToOutput, g.get("foldable").asBoolean(), g.toString());
        }
    }

    /**
     * With no --model, quantize imports the built-in all-MiniLM-L6-v2 (the distribution's
     * models/ jar, from Maven Central) into the cache once and quantizes it with the built-in
     * calibration sentences; the compressed-tensors output is smaller and its embeddings stay
     * close to the original's (GPTQ W4 g128, measured 0.9926 mean cosine on those sentences).
     */
    @Test
    void quantizeWithoutModelRunsTheBuiltInDefault() throws Exception {
        Path out = home.resolve("demo");
        Path report = home.resolve("demo-report.html");
        Result q = fmsmo("quantize", "--method", "gptq", "--format", "compressed-tensors", "--output", out.toString(), "--json", "--report",
                report.toString());
        assertEquals(0, q.exit(), q.err());
        assertTrue(q.err().contains("built-in default model all-MiniLM-L6-v2"), q.err());
        assertFalse(q.err().contains("\tat ") || q.err().contains("Exception"), "no stack trace on stderr: " + q.err());
        // the report: in the output folder and where --report said, the same page; it opens in a browser with every plot
        String page = Files.readString(report);
        assertEquals(page, Files.readString(out.resolve("quantization-report.html")));
        assertTrue(page.contains("cosine to the input model: mean 0.9") && page.contains(">0.attention.self.query<") && page.contains("(encoder.layer.…)"), "report");
        assertTrue(page.contains("36 linear layers quantized, 0 left in float.") && page.contains("<h2>Worst layers</h2>"), "plan and worst layers");
        ReportBrowser.assertOpensWithEveryImage(report, 9); // accuracy, error by layer, 3 worst layers × (input ranges, weights), time
        JsonNode summary = new ObjectMapper().readTree(q.out());
        assertEquals(36, summary.get("layers_quantized").asInt(), q.out());
        assertTrue(summary.get("size_after_bytes").asLong() < 0.65 * summary.get("size_before_bytes").asLong(), q.out());
        // the run ends with the accuracy: the embeddings of held-out sentences against the input model's
        // (measured 0.979 mean, 0.965 min: lower than on the calibration sentences below, which GPTQ fitted)
        JsonNode evaluation = summary.get("evaluation");
        assertEquals(40, evaluation.get("sentences").asInt(), q.out());
        assertTrue(evaluation.get("cosine").asDouble() > 0.95 && evaluation.get("cosine").asDouble() < 1
                && evaluation.get("cosine_min").asDouble() <= evaluation.get("cosine").asDouble(), q.out());
        Path cache = Fixtures.property("fmsmo.work").resolve("cache").resolve("models");
        Path reference = cache.resolve("all-minilm-l6-v2");
        assertTrue(Files.isRegularFile(reference.resolve("config.json")), "imported into the cache: " + reference);
        try (var left = Files.list(cache)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(".import-")), "no temporary import folder is left");
        }
        Result e = fmsmo("eval", "--model", out.toString(), "--reference", reference.toString(), "--data",
                cache.resolve("all-minilm-l6-v2-default-calibration.txt").toString(), "--json");
        assertEquals(0, e.exit(), e.err());
        double cosine = new ObjectMapper().readTree(e.out()).get("cosine").asDouble();
        assertTrue(cosine > 0.98 && cosine < 1, "GPTQ W4 g128 mean cosine " + cosine);
    }

    /**
     * QAT on the built-in default model (all-MiniLM-L6-v2), W4A8, embedding distillation for a
     * few steps: the loop runs, reports its losses and held-out cosine before and after, and the
     * saved checkpoint (weights + learned clips) evaluates to the same cosine without calibrating.
     */
    @Test
    void qatDistillsTheDefaultEncoderAndItsCheckpointReloads() throws Exception {
        Path out = home.resolve("qat-minilm");
        Path sentences = Fixtures.property("fmsmo.work").resolve("cache").resolve("models").resolve("all-minilm-l6-v2-default-calibration.txt");
        Result e1 = fmsmo("quantize", "--method", "qat", "--recipe", "qat_int8", "--nbits-w", "4", "--nbits-a", "8", "--distill",
                "--steps", "6", "--batch-size", "8", "--seq-len", "64", "--eval-data", sentences.toString(), "--output", out.toString(),
                "--json");
        assertEquals(0, e1.exit(), e1.err());
        JsonNode summary = new ObjectMapper().readTree(e1.out());
        assertEquals(36, summary.get("layers_quantized").asInt(), e1.out());
        assertTrue(Double.isFinite(summary.get("loss_first").asDouble()) && Double.isFinite(summary.get("loss_last").asDouble()), e1.out());
        double before = summary.get("eval_before").asDouble();
        double after = summary.get("eval_after").asDouble();
        assertTrue(before > 0.5 && before < 1 && after > 0.5 && after < 1, "held-out cosines " + before + " → " + after);
        // Progress lines carry the loss only when a period elapses mid-run; the closing line always comes.
        assertTrue(e1.err().contains("qat embedding-cosine: 6/6 steps"), "progress: " + e1.err());
        Path reference = Fixtures.property("fmsmo.work").resolve("cache").resolve("models").resolve("all-minilm-l6-v2");
        Result e = fmsmo("eval", "--model", out.toString(), "--reference", reference.toString(), "--data", sentences.toString(),
                "--max-tokens", "64", "--batch-size", "8", "--json");
        assertEquals(0, e.exit(), e.err());
        double reloaded = new ObjectMapper().readTree(e.out()).get("cosine").asDouble();
        assertEquals(after, reloaded, 1e-6 * after, "the checkpoint's learned clips reload without calibration");
    }

    /**
     * tiny-llama W4A8 QAT by KL distillation for a few steps (the full 400-step run is measured
     * outside the tests): held-out perplexity improves on the calibrated start, and the checkpoint
     * reloads to the same perplexity to 1e-6 relative.
     */
    @Test
    void qatOnTinyLlamaImprovesAndReloadsToTheSamePerplexity() throws Exception {
        Path shared = sharedFixtures();
        Path out = home.resolve("qat-tl");
        Result q = fmsmo("quantize", "--model", shared.resolve("tiny-llama").toString(), "--method", "qat", "--recipe", "qat_int8",
                "--nbits-w", "4", "--nbits-a", "8", "--distill", "--train-data", shared.resolve("text/calib.txt").toString(),
                "--eval-data", shared.resolve("text/eval.txt").toString(), "--steps", "12", "--batch-size", "8", "--output", out.toString(),
                "--json");
        assertEquals(0, q.exit(), q.err());
        JsonNode summary = new ObjectMapper().readTree(q.out());
        double before = summary.get("eval_before").asDouble();
        double after = summary.get("eval_after").asDouble();
        assertTrue(after < before, "QAT must improve on its calibrated start: " + before + " → " + after);
        assertTrue(summary.get("loss_last").asDouble() < summary.get("loss_first").asDouble(), q.out());
        Result e = fmsmo("eval", "--model", out.toString(), "--data", shared.resolve("text/eval.txt").toString(), "--json");
        assertEquals(0, e.exit(), e.err());
        assertEquals(after, new ObjectMapper().readTree(e.out()).get("perplexity").asDouble(), 1e-6 * after);
    }

    /**
     * A QAT run resumed from its mid-run checkpoint (weights, learned clips, AdamW moments, step)
     * ends where the uninterrupted run ends: same held-out perplexity to 1e-6 relative.
     */
    @Test
    void qatResumedFromAMidRunCheckpointEndsWhereTheUninterruptedRunEnds() throws Exception {
        Path shared = sharedFixtures();
        List<String> common = List.of("quantize", "--model", shared.resolve("tiny-llama").toString(), "--method", "qat", "--recipe", "qat_int8",
                "--nbits-w", "4", "--nbits-a", "8", "--distill", "--train-data", shared.resolve("text/calib.txt").toString(),
                "--steps", "8", "--batch-size", "4", "--seq-len", "64", "--json");
        Path whole = home.resolve("qat-whole");
        List<String> a = new ArrayList<>(common);
        a.addAll(List.of("--checkpoint-every", "4", "--output", whole.toString()));
        Result r1 = fmsmo(a.toArray(String[]::new));
        assertEquals(0, r1.exit(), r1.err());
        Path checkpoints = home.resolve("qat-whole.checkpoints");
        try (var list = Files.list(checkpoints)) {
            assertEquals(List.of("step-00000004", "step-00000008"), list.map(p -> p.getFileName().toString()).sorted().toList());
        }
        Path resumed = home.resolve("qat-resumed");
        List<String> b = new ArrayList<>(common);
        b.addAll(List.of("--resume", checkpoints.resolve("step-00000004").toString(), "--output", resumed.toString()));
        Result r2 = fmsmo(b.toArray(String[]::new));
        assertEquals(0, r2.exit(), r2.err());
        assertEquals(4, new ObjectMapper().readTree(r2.out()).get("resumed_from_step").asInt(), r2.out());
        double[] ppl = new double[2];
        Path[] outs = {whole, resumed};
        for (int i = 0; i < 2; i++) {
            Result e = fmsmo("eval", "--model", outs[i].toString(), "--data", shared.resolve("text/eval.txt").toString(), "--json");
            assertEquals(0, e.exit(), e.err());
            ppl[i] = new ObjectMapper().readTree(e.out()).get("perplexity").asDouble();
        }
        assertEquals(ppl[0], ppl[1], 1e-6 * ppl[0], "resumed vs uninterrupted");
    }

    /**
     * A streamed GPTQ run killed with SIGKILL at a random point (after a random number of finished
     * blocks, plus a random delay that may land in a block's quantization, its write or its
     * checkpoint) and started again with the same command goes on after its last finished block
     * and writes the bytes of a run that was never killed. The seed is in the failure message.
     */
    @Test
    void aStreamedRunKilledMidWayResumesToTheSameBytes() throws Exception {
        long seed = System.nanoTime();
        java.util.Random random = new java.util.Random(seed);
        int blocks = 8;
        Path model = home.resolve("synthetic-llama");
        org.fmsmo.core.synthetic.SyntheticModel.write(model, new org.fmsmo.core.synthetic.ModelShape("kill-llama", "llama", "LlamaForCausalLM", 512,
                256, 768, blocks, 4, 2, false, false, 10000.0, 256, 1e-5, null), 5, 400_000);
        List<String> args = List.of("quantize", "--model", model.toString(), "--method", "gptq", "--bits", "4", "--group-size", "64",
                "--calibration", "random", "--num-samples", "16", "--seq-len", "64", "--batch-size", "4", "--seed", "3",
                "--format", "compressed-tensors", "--max-shard-size", "300000", "--json", "--output");
        List<String> a = new ArrayList<>(args);
        a.add(home.resolve("whole").toString());
        Result whole = fmsmo(a.toArray(String[]::new));
        assertEquals(0, whole.exit(), whole.err());

        Path out = home.resolve("killed");
        int after = 1 + random.nextInt(blocks - 3);
        long delayMillis = random.nextInt(150);
        List<String> cmd = new ArrayList<>(List.of(home.resolve("bin/fmsmo").toString()));
        cmd.addAll(args);
        cmd.add(out.toString());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(home.resolve("killed.log").toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        Path checkpoint = home.resolve(".killed.fmsmo-partial/.fmsmo-run/checkpoint.json");
        String why = "seed " + seed + ": kill after " + after + " blocks + " + delayMillis + " ms";
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (blocksDone(checkpoint) < after) {
            assertTrue(p.isAlive(), why + ": the run ended before it was killed: " + Files.readString(home.resolve("killed.log")));
            assertTrue(System.nanoTime() < deadline, why + ": no checkpoint in 120 s");
            Thread.sleep(2);
        }
        Thread.sleep(delayMillis);
        p.toHandle().descendants().forEach(ProcessHandle::destroyForcibly); // the launcher script's java
        p.destroyForcibly();
        p.waitFor(30, TimeUnit.SECONDS);
        assertFalse(Files.exists(out), why + ": the run finished before it was killed");

        a = new ArrayList<>(args);
        a.add(out.toString());
        Result resumed = fmsmo(a.toArray(String[]::new));
        assertEquals(0, resumed.exit(), why + ": " + resumed.err());
        int resumedAfter = new ObjectMapper().readTree(resumed.out()).get("resumed_after_blocks").asInt();
        assertTrue(resumedAfter >= after, why + ": resumed after " + resumedAfter + " blocks; " + resumed.err());
        assertTrue(resumed.err().contains("resuming"), resumed.err());
        try (var files = Files.list(home.resolve("whole"))) {
            List<Path> written = files.sorted().toList();
            assertTrue(written.stream().filter(f -> f.getFileName().toString().matches("model-\\d{5}-of-\\d{5}\\.safetensors")).count() > 2,
                    "expected several shards: " + written);
            for (Path f : written) {
                if (f.getFileName().toString().equals("quantization-report.html")) {
                    // the report describes the run (its time per stage, its date, "resumed after"), not the model
                    assertTrue(Files.isRegularFile(out.resolve(f.getFileName())), why + ": the resumed run's report");
                    continue;
                }
                assertTrue(java.util.Arrays.equals(Files.readAllBytes(f), Files.readAllBytes(out.resolve(f.getFileName()))),
                        why + ": " + f.getFileName() + " differs from the uninterrupted run's");
            }
            try (var left = Files.list(out)) {
                assertEquals(written.size(), left.count(), why + ": other files in " + out);
            }
        }
        try (var siblings = Files.list(home)) {
            assertTrue(siblings.noneMatch(f -> f.getFileName().toString().startsWith(".killed")), why + ": a partial folder was left behind");
        }
    }

    /** Blocks a streamed run has recorded as finished, 0 before its first checkpoint. */
    private static int blocksDone(Path checkpoint) {
        try {
            return new ObjectMapper().readTree(checkpoint.toFile()).get("blocks_done").asInt();
        } catch (IOException | RuntimeException e) {
            return 0; // not there yet
        }
    }

    /**
     * {@code eval --backend cpu-reference} runs the frozen layers as integer GEMMs: on the built-in
     * MiniLM quantized with dq (per-token activations; also per-token asymmetric ones), ptq (static asymmetric activations,
     * SmoothQuant) and fp8 (e4m3 × e4m3, FP32 accumulation), every one of the 36 layers moves to the backend and the mean cosine equals the
     * simulated model's within 1e-3 relative.
     */
    @Test
    void evalOnTheCpuReferenceBackendMatchesTheSimulation() throws Exception {
        Path models = Fixtures.property("fmsmo.work").resolve("cache").resolve("models");
        // dq-asym: dq with dynamic per-token asymmetric activations (minmax on TOKEN, a zero point per token)
        for (String method : List.of("dq", "ptq", "fp8", "dq-asym")) {
            Path out = home.resolve("backend-" + method);
            Result q = method.equals("dq-asym")
                    ? fmsmo("quantize", "--method", "dq", "--set", "qa_mode=minmax", "--set", "qa_spec=int8-asym-token", "--output", out.toString(), "--json")
                    : fmsmo("quantize", "--method", method, "--output", out.toString(), "--json");
            assertEquals(0, q.exit(), q.err());
            double[] cosine = new double[2];
            for (int i = 0; i < 2; i++) {
                List<String> args = new ArrayList<>(List.of("eval", "--model", out.toString(), "--reference", models.resolve("all-minilm-l6-v2").toString(),
                        "--data", models.resolve("all-minilm-l6-v2-default-calibration.txt").toString(), "--json"));
                if (i == 1) {
                    args.addAll(List.of("--backend", "cpu-reference", "--check-layers"));
                    if (!method.equals("fp8")) {
                        args.addAll(List.of("--backend-option", "verify_accumulators=true"));
                    }
                }
                Result e = fmsmo(args.toArray(String[]::new));
                assertEquals(0, e.exit(), e.err());
                JsonNode r = new ObjectMapper().readTree(e.out());
                cosine[i] = r.get("cosine").asDouble();
                if (i == 1) {
                    assertEquals(36, r.get("backend_layers").asInt(), e.out());
                    assertEquals(0, r.get("simulated_layers").size(), e.out());
                    assertBackendLayersMatch(r, 36, !method.equals("fp8"));
                }
            }
            assertEquals(cosine[0], cosine[1], 1e-3 * cosine[0], method + ": simulated vs cpu-reference");
        }
        // FP8 layers accumulate in FP32: truncate_lsb narrows its mantissa chunk by chunk (measured:
        // 3 stored mantissa bits left cost 7.6e-4 of mean cosine); an integer accumulator width is refused, naming the layer
        List<String> fp8 = List.of("eval", "--model", home.resolve("backend-fp8").toString(), "--reference",
                models.resolve("all-minilm-l6-v2").toString(), "--data", models.resolve("all-minilm-l6-v2-default-calibration.txt").toString(),
                "--json", "--backend", "cpu-reference");
        List<String> narrowed = new ArrayList<>(fp8);
        narrowed.addAll(List.of("--backend-option", "truncate_lsb=20", "--backend-option", "chunk_size=64"));
        Result n = fmsmo(narrowed.toArray(String[]::new));
        assertEquals(0, n.exit(), n.err());
        JsonNode r = new ObjectMapper().readTree(n.out());
        assertTrue(r.get("backend_diagnostics").get("accumulator").asText().contains("truncate_lsb=20"), n.out());
        assertTrue(r.get("cosine").asDouble() > 0.99, n.out());
        List<String> width = new ArrayList<>(fp8);
        width.addAll(List.of("--backend-option", "max_acc_bits=16"));
        Result refused = fmsmo(width.toArray(String[]::new));
        assertEquals(4, refused.exit(), refused.err());
        assertTrue(refused.err().contains("FP32 accumulator") && refused.err().contains("encoder.layer.0"), refused.err());
    }

    /**
     * Every frozen layer of tiny-llama (dq and ptq W8A8) on cpu-reference: each int32 accumulator
     * equals an exact long sum, each layer's output equals its simulated layer's to float rounding,
     * and the perplexity equals the simulated model's within 1e-3 relative.
     */
    @Test
    void tinyLlamaOnTheCpuReferenceBackendIsExactLayerByLayer() throws Exception {
        Path shared = sharedFixtures();
        for (String method : List.of("dq", "ptq")) {
            Path out = home.resolve("tiny-llama-backend-" + method);
            Result q = fmsmo("quantize", "--model", shared.resolve("tiny-llama").toString(), "--method", method, "--calibration",
                    shared.resolve("text/calib.txt").toString(), "--output", out.toString(), "--json");
            assertEquals(0, q.exit(), q.err());
            List<String> args = List.of("eval", "--model", out.toString(), "--data", shared.resolve("text/eval.txt").toString(), "--json");
            Result simulated = fmsmo(args.toArray(String[]::new));
            assertEquals(0, simulated.exit(), simulated.err());
            List<String> onBackend = new ArrayList<>(args);
            onBackend.addAll(List.of("--backend", "cpu-reference", "--backend-option", "verify_accumulators=true", "--check-layers"));
            Result e = fmsmo(onBackend.toArray(String[]::new));
            assertEquals(0, e.exit(), e.err());
            JsonNode r = new ObjectMapper().readTree(e.out());
            assertEquals(28, r.get("backend_layers").asInt(), e.out());
            assertBackendLayersMatch(r, 28, true);
            double expected = new ObjectMapper().readTree(simulated.out()).get("perplexity").asDouble();
            assertEquals(expected, r.get("perplexity").asDouble(), 1e-3 * expected, method + ": simulated vs cpu-reference perplexity");
        }
    }

    /** The eval report's layer check (every backend layer against its simulated layer) and, when asked, the accumulator check. */
    private static void assertBackendLayersMatch(JsonNode report, int layers, boolean accumulatorsVerified) {
        JsonNode check = report.get("layer_check");
        assertEquals(layers, check.get("layers_checked").asInt(), report.toString());
        // identical integers and scales on both sides; only float summation order differs (measured ≤ 9e-7)
        assertTrue(check.get("max_relative_error").asDouble() <= 1e-5, "layer " + check.get("worst_layer") + " deviates by "
                + check.get("max_relative_error") + " of its largest output");
        if (accumulatorsVerified) {
            JsonNode v = report.get("backend_diagnostics").get("accumulators_verified");
            assertEquals(layers, v.get("layers").asInt(), report.toString());
            assertTrue(v.get("accumulators").asLong() > 0 && v.get("mismatches").asInt() == 0, report.toString());
        }
    }

    /** {@code bench --backend} prints the backend's W8A8 GEMM next to DJL f32 at each shape and writes the numbers. */
    @Test
    void benchComparesABackendGemmWithFloatMatmul() throws Exception {
        Path json = home.resolve("gemm.json");
        Result r = fmsmo("bench", "--backend", "cpu-reference", "--shapes", "16x64x32,8x300x48", "--warmup", "0", "--iterations", "1",
                "--output", json.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("16x64x32") && r.out().contains("GOP/s"), r.out());
        JsonNode gemm = new ObjectMapper().readTree(json.toFile()).get("gemm");
        assertEquals(2, gemm.size());
        assertTrue(gemm.get(1).get("backend_gops").asDouble() > 0 && gemm.get(1).get("f32_gflops").asDouble() > 0, gemm.toString());
        Result bad = fmsmo("bench", "--backend", "cpu-reference", "--shapes", "16x64");
        assertEquals(2, bad.exit(), bad.err());
        assertTrue(bad.err().contains("expected MxKxN"), bad.err());
        // accumulator emulation is a backend option; an unknown one names what is accepted
        Result narrow = fmsmo("bench", "--backend", "cpu-reference", "--backend-option", "max_acc_bits=16", "--backend-option", "chunk_size=32",
                "--shapes", "8x300x48", "--warmup", "0", "--iterations", "1");
        assertEquals(0, narrow.exit(), narrow.err());
        Result unknown = fmsmo("bench", "--backend", "cpu-reference", "--backend-option", "acc_bits=16", "--shapes", "8x300x48");
        assertEquals(2, unknown.exit(), unknown.err());
        assertTrue(unknown.err().contains("acc_bits") && unknown.err().contains("max_acc_bits"), unknown.err());
        Result plugins = fmsmo("plugins");
        assertTrue(plugins.out().contains("BACKEND") && plugins.out().contains("truncate_lsb"), plugins.out());
    }

    /** The encoder bars: dq W8A8 ≥ 0.998 and static ptq W8A8 ≥ 0.995 mean cosine to FP32 on sentences.txt. */
    @Test
    void quantizeMiniLmWithDqAndPtqKeepsEmbeddingsClose() throws Exception {
        Path shared = sharedFixtures();
        Path model = importMiniLm();
        Path sentences = shared.resolve("text/sentences.txt");
        for (String method : List.of("dq", "ptq")) {
            Path out = home.resolve("minilm-" + method);
            Result q = fmsmo("quantize", "--model", model.toString(), "--method", method, "--calibration", sentences.toString(),
                    "--output", out.toString(), "--json");
            assertEquals(0, q.exit(), q.err());
            assertEquals(36, new ObjectMapper().readTree(q.out()).get("layers_quantized").asInt(), q.out());
            Result e = fmsmo("eval", "--model", out.toString(), "--reference", model.toString(), "--data", sentences.toString(), "--json");
            assertEquals(0, e.exit(), e.err());
            double cosine = new ObjectMapper().readTree(e.out()).get("cosine").asDouble();
            double bar = method.equals("dq") ? 0.998 : 0.995;
            assertTrue(cosine >= bar && cosine < 1, method + " mean cosine " + cosine + " < " + bar);
        }
    }

    /**
     * GPTQ W4 beats RTN at the same grid, FP8 dynamic stays within 1% of FP32; both written in
     * deployable formats and evaluated from them. The grid is per channel: tiny-llama's down_proj
     * has 344 input features, which groups of 128 do not divide, and the gptq format refuses
     * a ragged last group (serving engines cannot load it).
     */
    @Test
    void gptqBeatsRtnAndFp8StaysCloseInDeployableFormats() throws Exception {
        Path shared = sharedFixtures();
        double fp32 = new ObjectMapper().readTree(shared.resolve("tiny-llama/reference.json").toFile()).at("/perplexity/value").asDouble();
        Map<String, Double> ppl = new java.util.LinkedHashMap<>();
        for (String[] run : new String[][] {{"gptq", "gptq"}, {"rtn", "gptq"}, {"fp8", "compressed-tensors"}}) {
            Path out = home.resolve(run[0] + "-" + run[1]);
            List<String> args = new ArrayList<>(List.of("quantize", "--model", shared.resolve("tiny-llama").toString(), "--method", run[0],
                    "--format", run[1], "--output", out.toString(), "--json"));
            if (!run[0].equals("rtn")) {
                args.addAll(List.of("--calibration", shared.resolve("text/calib.txt").toString()));
            }
            if (!run[0].equals("fp8")) {
                args.addAll(List.of("--bits", "4", "--group-size", "-1"));
            }
            Result q = fmsmo(args.toArray(String[]::new));
            assertEquals(0, q.exit(), q.err());
            JsonNode summary = new ObjectMapper().readTree(q.out());
            assertEquals(28, summary.get("layers_quantized").asInt(), q.out());
            assertTrue(summary.get("size_after_bytes").asLong() < summary.get("size_before_bytes").asLong(), q.out());
            Result e = fmsmo("eval", "--model", out.toString(), "--data", shared.resolve("text/eval.txt").toString(), "--json");
            assertEquals(0, e.exit(), e.err());
            ppl.put(run[0], new ObjectMapper().readTree(e.out()).get("perplexity").asDouble());
        }
        assertTrue(ppl.get("gptq") < ppl.get("rtn"), "GPTQ must beat RTN at W4 per channel: " + ppl);
        assertTrue(ppl.get("fp8") < fp32 * 1.01, "FP8 dynamic within 1% of FP32 " + fp32 + ": " + ppl);
    }

    /** Bad quantize requests fail with the reason and write nothing (a format that cannot hold the planned layers refuses before quantizing). */
    @Test
    void badQuantizeRequestsFailClearlyAndWriteNothing() throws Exception {
        Path shared = sharedFixtures();
        String model = shared.resolve("tiny-llama").toString();
        Path out = home.resolve("never");
        Map<String[], String> cases = new java.util.LinkedHashMap<>();
        cases.put(new String[] {"--method", "gptq", "--bits", "9", "--output", out.toString()}, "--bits 9");
        cases.put(new String[] {"--method", "rtn", "--format", "gguf", "--output", out.toString()}, "gguf");
        cases.put(new String[] {"--method", "rtn", "--output", model}, "overlaps the input folder");
        cases.put(new String[] {"--method", "gptq", "--bits", "3", "--format", "gptq", "--calibration",
            shared.resolve("text/calib.txt").toString(), "--num-samples", "4", "--output", out.toString()}, "2, 4 or 8 bits");
        for (Map.Entry<String[], String> c : cases.entrySet()) {
            List<String> args = new ArrayList<>(List.of("quantize", "--model", model));
            args.addAll(List.of(c.getKey()));
            Result r = fmsmo(args.toArray(String[]::new));
            assertTrue(r.exit() == 2 || r.exit() == 4, "usage (2) or unsupported spec (4) for " + String.join(" ", c.getKey()) + ": " + r.err());
            assertTrue(r.err().contains(c.getValue()) && !r.err().contains("\tat "), r.err());
            assertFalse(Files.exists(out), "nothing written for " + String.join(" ", c.getKey()));
        }
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "mine");
        Result r = fmsmo("quantize", "--model", model, "--method", "rtn", "--output", out.toString());
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains("--force"), r.err());
        assertEquals("mine", Files.readString(out.resolve("keep.txt")));
    }

    /** qdq on a file the test writes: fix, 4 bits, clip 1 → s = 1/7; 0.6 → round(4.2) = 4, −3 → clamp −7, 0.3 → round(2.1) = 2. */
    @Test
    void qdqAppliesOneModeToEveryTensorAndLeavesTheInputAlone() throws Exception {
        Path in = home.resolve("in.safetensors");
        SafetensorsWriter.writeFile(in, List.of(TensorData.ofFloats("w", Dtype.F32, new long[] {1, 3}, new float[] {0.6f, -3f, 0.3f})), Map.of());
        byte[] before = Files.readAllBytes(in);
        Path out = home.resolve("out.safetensors");
        Result r = fmsmo("qdq", "--mode", "fix", "--bits", "4", "--clip", "1", "--input", in.toString(), "--output", out.toString());
        assertEquals(0, r.exit(), r.err());
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            float[] y = f.floats("w");
            assertEquals(4f / 7, y[0], 1e-6f);
            assertEquals(-1f, y[1], 1e-6f);
            assertEquals(2f / 7, y[2], 1e-6f);
        }
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(in)), "input unchanged");
        Result again = fmsmo("qdq", "--mode", "fix", "--bits", "4", "--clip", "1", "--input", in.toString(), "--output", out.toString());
        assertEquals(2, again.exit(), again.err());
        assertTrue(again.err().contains("exists"), again.err());
    }

    /**
     * A quantized folder records its format's name, and loading it takes that format from the
     * plugins the command was given: with the compressed-tensors plugin moved out of the
     * distribution's plugins/, eval fails naming the format and --plugins-dir, and succeeds with
     * --plugins-dir naming the folder it was moved to.
     */
    @Test
    void loadingAQuantizedFolderTakesItsFormatFromThePluginsDirGiven() throws Exception {
        Path shared = sharedFixtures();
        Path out = home.resolve("rtn-ct");
        Result q = fmsmo("quantize", "--model", shared.resolve("tiny-llama").toString(), "--method", "rtn", "--bits", "4", "--group-size", "-1",
                "--format", "compressed-tensors", "--output", out.toString());
        assertEquals(0, q.exit(), q.err());
        assertEquals("compressed-tensors", new ObjectMapper().readTree(out.resolve("config.json").toFile()).get("fmsmo_checkpoint_format").asText());
        Path elsewhere = home.resolve("elsewhere");
        Files.createDirectories(elsewhere);
        Files.move(home.resolve("plugins/compressed-tensors"), elsewhere.resolve("compressed-tensors"));
        String data = shared.resolve("text/eval.txt").toString();
        Result missing = fmsmo("eval", "--model", out.toString(), "--data", data);
        assertEquals(4, missing.exit(), missing.err());
        assertTrue(missing.err().startsWith("error: ") && missing.err().contains("'compressed-tensors'") && missing.err().contains("--plugins-dir")
                && !missing.err().contains("\tat "), missing.err());
        Result given = fmsmo("eval", "--model", out.toString(), "--data", data, "--plugins-dir", elsewhere.toString(), "--json");
        assertEquals(0, given.exit(), given.err());
        assertTrue(new ObjectMapper().readTree(given.out()).get("perplexity").asDouble() > 1, given.out());
    }

    /**
     * A third-party architecture (the fixture plugin {@code meta-llama}: Llama under Meta's
     * original tensor names) dropped into {@code plugins/}: listed, and a checkpoint of its
     * {@code model_type} quantizes (GPTQ, streamed, compressed-tensors) and evaluates through the
     * CLI; without the jar the same run fails naming the type.
     */
    @Test
    void aThirdPartyArchitectureInThePluginsFolderQuantizesAndEvaluates() throws Exception {
        Path jar = home.resolve("plugins/meta-llama.jar");
        Files.copy(Fixtures.fixtureJar("meta-llama"), jar);
        assertEquals(List.of("architecture:meta-llama"), names(plugin(pluginsJson(), "meta-llama")));
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) new ObjectMapper().readTree("""
                {"model_type": "meta_llama", "architectures": ["MetaLlamaForCausalLM"], "vocab_size": 512, "hidden_size": 128,
                 "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 256}""");
        Path model = home.resolve("meta-llama-model");
        try (org.fmsmo.core.plugin.PluginRegistry r = org.fmsmo.core.plugin.PluginRegistry.standard(home.resolve("plugins"))) {
            Path probe = Files.createDirectories(home.resolve("probe"));
            Files.writeString(probe.resolve("config.json"), config.toString());
            var spec = (org.fmsmo.api.arch.TransformerSpec) r.get(org.fmsmo.api.arch.ModelArchitectureProvider.class, "meta-llama")
                    .describe(org.fmsmo.core.hf.HfConfig.read(probe));
            org.fmsmo.core.synthetic.SyntheticModel.write(model, config, spec, 3);
        }
        assertTrue(Files.exists(model.resolve("model.safetensors")) && !Files.exists(model.resolve("model.layers.0.attention.wq.weight")));
        StringBuilder words = new StringBuilder();
        java.util.SplittableRandom random = new java.util.SplittableRandom(5);
        for (int i = 0; i < 4000; i++) {
            words.append('w').append(3 + random.nextInt(509)).append(i % 20 == 19 ? "\n" : " ");
        }
        Path text = Files.writeString(home.resolve("words.txt"), words);
        Path out = home.resolve("meta-llama-gptq");
        Result q = fmsmo("quantize", "--model", model.toString(), "--method", "gptq", "--group-size", "32", "--format", "compressed-tensors",
                "--calibration", text.toString(), "--num-samples", "8", "--seq-len", "64", "--output", out.toString());
        assertEquals(0, q.exit(), q.err());
        Result e = fmsmo("eval", "--model", out.toString(), "--data", text.toString(), "--seq-len", "64", "--json");
        assertEquals(0, e.exit(), e.err());
        double ppl = new ObjectMapper().readTree(e.out()).get("perplexity").asDouble();
        assertTrue(ppl > 1 && Double.isFinite(ppl), e.out());
        Files.delete(jar);
        Result without = fmsmo("eval", "--model", model.toString(), "--data", text.toString());
        assertEquals(org.fmsmo.api.ErrorCode.UNKNOWN_NAME.exitStatus(), without.exit(), without.err());
        assertTrue(without.err().startsWith("error: ") && without.err().contains("'meta_llama'") && !without.err().contains("\tat "), without.err());
    }

    @Test
    void evalOfAMissingFolderFailsWithoutAStackTrace() throws Exception {
        Result r = fmsmo("eval", "--model", home.resolve("no-such-model").toString(), "--data", home.resolve("none.txt").toString());
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("no-such-model") && !r.err().contains("\tat "), r.err());
    }

    @Test
    void unknownCommandsAndOptionsFailWithAnErrorLineAndAHint() throws Exception {
        Result r = fmsmo("plugins", "--no-such-option");
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("--no-such-option") && r.err().contains("fmsmo plugins --help")
                && !r.err().contains("Usage:"), r.err());
        Result unknown = fmsmo("no-such-command");
        assertEquals(2, unknown.exit(), unknown.err());
        assertTrue(unknown.err().startsWith("error: ") && unknown.err().contains("no-such-command"), unknown.err());
    }

    private static void assertSkipped(JsonNode root, String id, String... reasonParts) {
        JsonNode p = plugin(root, id);
        assertTrue(p != null, "plugin " + id + " is not listed: " + root.get("plugins"));
        assertEquals("skipped", p.get("status").asText(), id);
        assertEquals("plugins dir", p.get("source").asText(), id);
        for (String part : reasonParts) {
            assertTrue(p.get("reason").asText().contains(part), id + ": reason '" + p.get("reason").asText() + "' lacks '" + part + "'");
        }
    }
}
