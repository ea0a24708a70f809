package org.fmsmo.tests;

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
 * tiny-llama exported to ONNX (logits only) and run in ONNX Runtime Java: the float graph and the
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
        ModelLoader loader = new ModelLoader(plugins);
        try (TransformerModel m = loader.load(model, false)) {
            return Exports.export(m, loader.describe(HfConfig.read(model)), Exports.format(plugins, "onnx"), Exports.options(plugins, "onnx", Map.of()),
                    work.resolve(file + "-onnx"), ProgressListener.NONE).resolve("model.onnx");
        }
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
                try (OnnxTensor in = OnnxTensor.createTensor(env, new long[][] {ids}); OrtSession.Result r = s.run(Map.of("input_ids", in))) {
                    got = ((OnnxTensor) r.get(0)).getFloatBuffer().array();
                }
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
