import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.plugin.PluginRegistry;

/**
 * An exported decoder run in ONNX Runtime against the model fmsmo loads from the folder it was
 * exported from: windows of a text's tokens (or of seeded random ids), the largest logit
 * difference relative to the largest logit, both perplexities, and the time of each forward.
 * Run by bench/onnx_check.sh with the distribution's class path.
 *   OnnxCheck PLUGINS_DIR MODEL_DIR MODEL_ONNX (TEXT|random) WINDOW WINDOWS
 */
public class OnnxCheck {
    public static void main(String[] a) throws Exception {
        Path plugins = Path.of(a[0]);
        Path model = Path.of(a[1]);
        Path onnx = Path.of(a[2]);
        int window = Integer.parseInt(a[4]);
        int windows = Integer.parseInt(a[5]);
        double worst = 0, scale = 0, nllFmsmo = 0, nllOrt = 0, msFmsmo = 0, msOrt = 0;
        long count = 0;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (PluginRegistry registry = PluginRegistry.standard(plugins);
             TransformerModel m = new ModelLoader(registry).load(model, !a[3].equals("random"));
             NDManager nd = NDManager.newBaseManager();
             OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions())) {
            long[] tokens;
            if (a[3].equals("random")) {
                java.util.Random r = new java.util.Random(1);
                tokens = new long[window * windows];
                for (int i = 0; i < tokens.length; i++) {
                    tokens[i] = r.nextInt(m.config().integer("vocab_size", 0));
                }
            } else {
                tokens = m.tokenizer().encode(Files.readString(Path.of(a[3])), true);
            }
            for (int w = 0; w < windows && (w + 1) * window <= tokens.length; w++) {
                long[] ids = java.util.Arrays.copyOfRange(tokens, w * window, (w + 1) * window);
                long t0 = System.nanoTime();
                float[] expected = ((CausalLM) m).logits(nd.create(ids, new Shape(1, window))).toFloatArray();
                long t1 = System.nanoTime();
                Map<String, OnnxTensor> inputs = new HashMap<>();
                for (Map.Entry<String, ai.onnxruntime.NodeInfo> e : s.getInputInfo().entrySet()) {
                    if (e.getKey().startsWith("past_key_values.")) {
                        long[] dims = ((ai.onnxruntime.TensorInfo) e.getValue().getInfo()).getShape();
                        inputs.put(e.getKey(), OnnxTensor.createTensor(env, java.nio.FloatBuffer.allocate(0), new long[] {1, dims[1], 0, dims[3]}));
                    }
                }
                inputs.put("input_ids", OnnxTensor.createTensor(env, new long[][] {ids}));
                float[] got;
                long t2 = System.nanoTime();
                try (OrtSession.Result out = s.run(inputs)) {
                    got = ((OnnxTensor) out.get("logits").orElseThrow()).getFloatBuffer().array();
                } finally {
                    inputs.values().forEach(OnnxTensor::close);
                }
                long t3 = System.nanoTime();
                msFmsmo += (t1 - t0) / 1e6;
                msOrt += (t3 - t2) / 1e6;
                int vocab = expected.length / window;
                for (int i = 0; i < expected.length; i++) {
                    worst = Math.max(worst, Math.abs(expected[i] - got[i]));
                    scale = Math.max(scale, Math.abs(expected[i]));
                }
                for (int i = 0; i + 1 < window; i++) {
                    nllFmsmo += nll(expected, i, vocab, (int) ids[i + 1]);
                    nllOrt += nll(got, i, vocab, (int) ids[i + 1]);
                    count++;
                }
            }
        }
        System.out.printf("{\"largest_logit_difference\": %.3e, \"perplexity_fmsmo\": %.6f, \"perplexity_onnxruntime\": %.6f, "
                + "\"tokens\": %d, \"fmsmo_ms\": %.1f, \"onnxruntime_ms\": %.1f}%n",
                worst / scale, Math.exp(nllFmsmo / count), Math.exp(nllOrt / count), count, msFmsmo, msOrt);
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
}
