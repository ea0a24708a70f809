package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.export.Exports;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.plugin.PluginRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * tiny-llama exported to ONNX and run in ONNX Runtime Java: the float graph and the
 * W4 one ({@code MatMulNBits}) give fmsmo's logits to float rounding, and the same perplexity over
 * eval.txt's first windows.
 */
class OnnxDecoderExportTest {

    private static final int WINDOW = 128;
    private static final int WINDOWS = 6;

    private static PluginRegistry plugins;
    private static Path shared;
    private static Path work;
    private static long[] tokens;

    @BeforeAll
    static void setUp() throws Exception {
        shared = Fixtures.property("fmsmo.shared").resolve("fixtures");
        if (!Files.isDirectory(shared.resolve("tiny-llama"))) {
            String reason = "skipped: " + shared + " is absent (../shared is not mounted)";
            System.out.println(reason);
            Assumptions.abort(reason);
        }
        plugins = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"));
        work = Fixtures.freshDir("onnx-decoder");
        try (TransformerModel m = new ModelLoader(plugins).load(shared.resolve("tiny-llama"))) {
            tokens = m.tokenizer().encode(Files.readString(shared.resolve("text/eval.txt")), true);
        }
    }

    @AfterAll
    static void close() {
        if (plugins != null) {
            plugins.close();
        }
    }

    private static Path export(Path model, String file) {
        return export(model, file, Map.of());
    }

    private static Path export(Path model, String file, Map<String, String> options) {
        ModelLoader loader = new ModelLoader(plugins);
        try (TransformerModel m = loader.load(model, false)) {
            return Exports.export(m, loader.describe(HfConfig.read(model)), Exports.format(plugins, "onnx"), Exports.options(plugins, "onnx", options),
                    work.resolve(file + "-onnx"), ProgressListener.NONE).resolve("model.onnx");
        }
    }

    /**
     * The weights as ONNX external data ({@code onnx_external_data=always}; auto does it when the
     * graph would pass 2 GiB): {@code model.onnx} keeps the graph and each tensor's location,
     * offset and length, {@code model.onnx_data} the bytes, every tensor at a multiple of 4096; ONNX
     * Runtime loads the pair and gives the same logits as the one-file graph.
     */
    @Test
    void weightsInExternalDataGiveTheSameLogits() throws Exception {
        Path source = shared.resolve("tiny-llama");
        Path inline = export(source, "tiny-llama-inline");
        Path split = export(source, "tiny-llama-external", Map.of("onnx_external_data", "always"));
        Path data = split.resolveSibling("model.onnx_data");
        assertTrue(Files.isRegularFile(data), "model.onnx_data beside model.onnx");
        assertTrue(Files.size(split) < 200_000 && Files.size(data) > Files.size(inline) - 200_000,
                "graph " + Files.size(split) + " bytes, data " + Files.size(data) + " bytes, one file " + Files.size(inline) + " bytes");
        double[] one = compare(source, inline);
        double[] two = compare(source, split);
        System.out.printf("tiny-llama with external data: %,d + %,d bytes; largest logit difference %.2e (one file: %.2e)%n",
                Files.size(split), Files.size(data), two[0], one[0]);
        assertEquals(one[0], two[0], 0.0, "the same logits as the one-file graph");
        assertEquals(one[2], two[2], 0.0);
        assertTrue(export(source, "tiny-llama-auto").resolveSibling("model.onnx_data").toFile().exists() == false,
                "auto keeps a small model in one file");
    }

    /** {largest |Δlogit| / largest |logit|, perplexity by fmsmo, perplexity by ONNX Runtime} over the windows. */
    private static double[] compare(Path model, Path onnx) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double worst = 0;
        double scale = 0;
        double nllFmsmo = 0;
        double nllOrt = 0;
        long count = 0;
        try (TransformerModel m = new ModelLoader(plugins).load(model, false); NDManager nd = NDManager.newBaseManager();
             OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions())) {
            for (int w = 0; w < WINDOWS; w++) {
                long[] ids = java.util.Arrays.copyOfRange(tokens, w * WINDOW, (w + 1) * WINDOW);
                float[] expected = ((CausalLM) m).logits(nd.create(ids, new Shape(1, WINDOW))).toFloatArray();
                float[] got;
                got = step(env, s, ids, emptyCache(env, s)).logits();
                int vocab = expected.length / WINDOW;
                for (int i = 0; i < expected.length; i++) {
                    worst = Math.max(worst, Math.abs(expected[i] - got[i]));
                    scale = Math.max(scale, Math.abs(expected[i]));
                }
                for (int i = 0; i < WINDOW - 1; i++) {
                    nllFmsmo += nll(expected, i, vocab, (int) ids[i + 1]);
                    nllOrt += nll(got, i, vocab, (int) ids[i + 1]);
                    count++;
                }
            }
        }
        return new double[] {worst / scale, Math.exp(nllFmsmo / count), Math.exp(nllOrt / count)};
    }

    /** What one call of the graph gives: the new tokens' logits, and the cache with them appended ({@code present.*}, renamed as the next call's inputs). */
    record Step(float[] logits, Map<String, OnnxTensor> cache) {
    }

    /** Runs {@code ids} after the tokens {@code cache} holds; the cache tensors are closed. */
    static Step step(OrtEnvironment env, OrtSession s, long[] ids, Map<String, OnnxTensor> cache) throws Exception {
        Map<String, OnnxTensor> inputs = new java.util.HashMap<>(cache);
        try (OnnxTensor in = OnnxTensor.createTensor(env, new long[][] {ids})) {
            inputs.put("input_ids", in);
            try (OrtSession.Result r = s.run(inputs)) {
                float[] logits = ((OnnxTensor) r.get("logits").orElseThrow()).getFloatBuffer().array();
                Map<String, OnnxTensor> next = new java.util.HashMap<>();
                for (String name : cache.keySet()) {
                    OnnxTensor present = (OnnxTensor) r.get(name.replace("past_key_values.", "present.")).orElseThrow();
                    next.put(name, OnnxTensor.createTensor(env, present.getFloatBuffer(), present.getInfo().getShape()));
                }
                return new Step(logits, next);
            }
        } finally {
            for (OnnxTensor t : cache.values()) {
                t.close();
            }
        }
    }

    /** Past keys and values of length 0 for every {@code past_key_values.*} input: the first call. */
    static Map<String, OnnxTensor> emptyCache(OrtEnvironment env, OrtSession s) throws Exception {
        Map<String, OnnxTensor> cache = new java.util.HashMap<>();
        for (Map.Entry<String, ai.onnxruntime.NodeInfo> e : s.getInputInfo().entrySet()) {
            if (e.getKey().startsWith("past_key_values.")) {
                long[] dims = ((ai.onnxruntime.TensorInfo) e.getValue().getInfo()).getShape(); // [batch, kv_heads, past, head_dim]
                cache.put(e.getKey(), OnnxTensor.createTensor(env, java.nio.FloatBuffer.allocate(0), new long[] {1, dims[1], 0, dims[3]}));
            }
        }
        return cache;
    }

    /**
     * The KV cache: a window run as a 100-token prompt, then 8 single tokens and a 20-token chunk,
     * each call continuing from the cache the previous one returned, gives the logits of the whole
     * window run at once (the same float operations on the same keys and values, up to summation
     * order in the shorter attention rows).
     */
    @Test
    void theKvCacheContinuesASequence() throws Exception {
        Path source = shared.resolve("tiny-llama");
        Path onnx = export(source, "tiny-llama-cache");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions())) {
            long[] ids = java.util.Arrays.copyOfRange(tokens, 0, WINDOW);
            float[] whole = step(env, s, ids, emptyCache(env, s)).logits();
            int vocab = whole.length / WINDOW;
            float[] pieces = new float[whole.length];
            Map<String, OnnxTensor> cache = emptyCache(env, s);
            int[] cuts = {0, 100, 101, 102, 103, 104, 105, 106, 107, 108, WINDOW};
            for (int c = 0; c + 1 < cuts.length; c++) {
                Step st = step(env, s, java.util.Arrays.copyOfRange(ids, cuts[c], cuts[c + 1]), cache);
                System.arraycopy(st.logits(), 0, pieces, cuts[c] * vocab, st.logits().length);
                cache = st.cache();
            }
            assertEquals(WINDOW, ((OnnxTensor) cache.get("past_key_values.0.key")).getInfo().getShape()[2], "the cache holds the whole window");
            cache.values().forEach(OnnxTensor::close);
            double worst = 0;
            double scale = 0;
            for (int i = 0; i < whole.length; i++) {
                worst = Math.max(worst, Math.abs(whole[i] - pieces[i]));
                scale = Math.max(scale, Math.abs(whole[i]));
            }
            System.out.printf("tiny-llama with the KV cache: largest logit difference %.2e of the largest logit%n", worst / scale);
            assertTrue(worst / scale < 1e-5, "cached vs whole: " + worst / scale);
        }
    }

    private static double nll(float[] logits, int row, int vocab, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < vocab; k++) {
            max = Math.max(max, logits[row * vocab + k]);
        }
        double sum = 0;
        for (int k = 0; k < vocab; k++) {
            sum += Math.exp(logits[row * vocab + k] - max);
        }
        return Math.log(sum) + max - logits[row * vocab + target];
    }

    @Test
    void floatAndW4LogitsEqualFmsmos() throws Exception {
        Path source = shared.resolve("tiny-llama");
        double[] f = compare(source, export(source, "tiny-llama-f32"));
        System.out.printf("tiny-llama float: largest logit difference %.2e of the largest logit; perplexity fmsmo %.4f, ONNX Runtime %.4f%n", f[0], f[1], f[2]);
        assertTrue(f[0] < 1e-4 && Math.abs(f[2] / f[1] - 1) < 1e-4, "float: " + java.util.Arrays.toString(f));
        Path w4 = Quantization.of(source).method("gptq").recipe("ptq_int8").format("fms").plugins(plugins).output(work.resolve("gptq"))
                .set(Map.of("nbits_w", 4, "nbits_a", 32, "qw_spec", "int4-sym-group32", "qw_mode", "maxfullperGp"))
                .calibration(CalibrationSource.random(8, 64, 4, 7)).run().output();
        Path onnx = export(w4, "tiny-llama-w4");
        double[] q = compare(w4, onnx);
        System.out.printf("tiny-llama GPTQ W4 g32 (MatMulNBits): largest logit difference %.2e; perplexity fmsmo %.4f, ONNX Runtime %.4f; %,d bytes%n",
                q[0], q[1], q[2], Files.size(onnx));
        assertTrue(q[0] < 1e-3 && Math.abs(q[2] / q[1] - 1) < 1e-3, "W4: " + java.util.Arrays.toString(q));
    }
}
