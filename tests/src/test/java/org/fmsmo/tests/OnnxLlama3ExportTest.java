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
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Test;

/**
 * A Llama 3.2-style decoder (rope_type llama3, max_position_embeddings 131072, grouped KV heads,
 * the head tied to the embedding table, which the graph holds once) exported to ONNX: the graph holds no position-pair table (131072² floats would be 64 GiB; the
 * causal mask is computed from the positions), and ONNX Runtime gives fmsmo's logits. Needs no
 * ../shared: the model is synthesized (2 layers, width 128).
 */
class OnnxLlama3ExportTest {

    private static final ModelShape SHAPE = new ModelShape("llama3-rope-small", "llama", "LlamaForCausalLM", 512, 128, 256, 2, 4, 2, true, false,
            500000.0, 131072, 1e-5, Map.of("rope_type", "llama3", "factor", 32.0, "low_freq_factor", 1.0, "high_freq_factor", 4.0,
                    "original_max_position_embeddings", 8192));

    @Test
    void llama3RopeAndLongContextExportAndRunInOnnxRuntime() throws Exception {
        Path work = Fixtures.freshDir("onnx-llama3-" + System.nanoTime());
        Path model = work.resolve("model");
        SyntheticModel.write(model, SHAPE, 11, SyntheticModel.HUB_SHARD_BYTES);
        try (PluginRegistry plugins = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            ModelLoader loader = new ModelLoader(plugins);
            Path onnx;
            try (TransformerModel m = loader.load(model, false)) {
                onnx = Exports.export(m, loader.describe(HfConfig.read(model)), Exports.format(plugins, "onnx"),
                        Exports.options(plugins, "onnx", Map.of()), work.resolve("onnx"), ProgressListener.NONE).resolve("model.onnx");
            }
            // the rotary tables (2 × 131072 × 32 floats, 33.6 MB) and 1.3 MB of weights; no 131072² mask
            assertTrue(Files.size(onnx) < 40_000_000, "graph of " + Files.size(onnx) + " bytes");
            long[] ids = new long[96];
            java.util.Random r = new java.util.Random(5);
            for (int i = 0; i < ids.length; i++) {
                ids[i] = r.nextInt(SHAPE.vocab());
            }
            float[] expected;
            try (TransformerModel m = loader.load(model, false); NDManager nd = NDManager.newBaseManager()) {
                expected = ((CausalLM) m).logits(nd.create(ids, new Shape(1, ids.length))).toFloatArray();
            }
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            float[] got;
            try (OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions())) {
                OnnxDecoderExportTest.Step step = OnnxDecoderExportTest.step(env, s, ids, OnnxDecoderExportTest.emptyCache(env, s));
                step.cache().values().forEach(OnnxTensor::close);
                got = step.logits();
            }
            double worst = 0;
            double scale = 0;
            for (int i = 0; i < expected.length; i++) {
                worst = Math.max(worst, Math.abs(expected[i] - got[i]));
                scale = Math.max(scale, Math.abs(expected[i]));
            }
            System.out.printf("llama3 rope, 131072 positions: largest logit difference %.2e of the largest logit; graph %,d bytes%n",
                    worst / scale, Files.size(onnx));
            assertTrue(worst / scale < 1e-4, "ONNX Runtime against fmsmo: " + worst / scale);
        }
    }
}
