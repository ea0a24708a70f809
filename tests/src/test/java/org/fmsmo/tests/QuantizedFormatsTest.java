package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.analysis.ModelAnalyzer;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.checkpoint.CheckpointFormats;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.context.DefaultQuantContext;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.recipe.Recipes;
import org.junit.jupiter.api.Test;

/**
 * GPTQ on tiny-llama written as compressed-tensors and as GPTQ v1, then decoded by a reader
 * written here from the format descriptions alone (bit fields, offsets, zero − 1, F16 scales) —
 * not the plugin's reader — and compared with the weights the quantized model computes with, bit
 * for bit. Then the formats' own readers: loading each folder gives those weights again.
 */
class QuantizedFormatsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void gptqCheckpointsDecodeToExactlyTheInMemoryWeights() throws Exception {
        Path shared = Fixtures.property("fmsmo.shared").resolve("fixtures");
        if (!Files.isDirectory(shared.resolve("tiny-llama"))) {
            String reason = "skipped: " + shared + " is absent (../shared is not mounted)";
            System.out.println(reason);
            org.junit.jupiter.api.Assumptions.abort(reason);
        }
        Path work = Fixtures.freshDir("formats-" + System.nanoTime());
        try (PluginRegistry registry = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"));
             TransformerModel m = new ModelLoader(registry).load(shared.resolve("tiny-llama"))) {
            QuantConfig cfg = Recipes.qconfigInit("ptq_int8", Map.of("nbits_a", 32, "qw_spec", "int4-sym-group8", "qw_mode", "maxfullperGp",
                    "desc_act", true), org.fmsmo.core.recipe.ConfigSchema.of(registry));
            QuantPlan plan = ModelAnalyzer.plan(m, cfg);
            CalibrationData calib = CalibrationData.fromText(m, shared.resolve("text/calib.txt"), 8, 128, 4);
            registry.get(QuantMethodProvider.class, "gptq").create()
                    .quantize(new DefaultQuantContext(m, plan, cfg, registry, ProgressListener.NONE, calib));
            Map<String, float[]> inMemory = new LinkedHashMap<>();
            for (LinearLayer l : m.linearLayers()) {
                if (l instanceof LayerWrapper w && w.isFrozen()) {
                    inMemory.put(l.name(), w.frozenWeight().dequantize().toFloatArray());
                }
            }
            assertEquals(28, inMemory.size());
            Path ct = CheckpointFormats.write(m, "compressed-tensors", registry.get(CheckpointFormatProvider.class, "compressed-tensors").create(), work.resolve("ct"));
            Path gptq = CheckpointFormats.write(m, "gptq", registry.get(CheckpointFormatProvider.class, "gptq").create(), work.resolve("gptq"));

            JsonNode ctConfig = JSON.readTree(ct.resolve("config.json").toFile()).get("quantization_config");
            assertEquals("pack-quantized", ctConfig.get("format").asText());
            assertEquals("group", ctConfig.at("/config_groups/group_0/weights/actorder").asText());
            assertEquals("lm_head", ctConfig.get("ignore").get(0).asText());
            JsonNode qc = JSON.readTree(gptq.resolve("quantize_config.json").toFile());
            assertEquals(4, qc.get("bits").asInt());
            assertEquals(8, qc.get("group_size").asInt());
            assertTrue(qc.get("desc_act").asBoolean());
            try (SafetensorsFile ctFile = SafetensorsFile.open(ct.resolve("model.safetensors"));
                 SafetensorsFile gFile = SafetensorsFile.open(gptq.resolve("model.safetensors"))) {
                for (Map.Entry<String, float[]> e : inMemory.entrySet()) {
                    assertArrayEquals(e.getValue(), decodeCompressedTensors(ctFile, e.getKey(), 8), e.getKey() + " (compressed-tensors)");
                    assertArrayEquals(e.getValue(), decodeGptq(gFile, e.getKey()), e.getKey() + " (gptq)");
                }
                assertEquals("F32", ctFile.info("model.norm.weight").dtype().name(), "unquantized tensors keep their dtype");
            }
            // The loader takes each folder's format from the registry it is given.
            for (Path folder : new Path[] {ct, gptq}) {
                try (TransformerModel back = new ModelLoader(registry).load(folder)) {
                    for (Map.Entry<String, float[]> e : inMemory.entrySet()) {
                        assertArrayEquals(e.getValue(), back.linear(e.getKey()).weight().toFloatArray(), folder.getFileName() + " " + e.getKey());
                    }
                }
            }
        }
    }

    /**
     * W8A8 checkpoints carry their activation scheme: a model loaded from compressed-tensors
     * quantizes its inputs as the engine would (FP8 per token, FP8 or INT8 with the stored static
     * input_scale), so its logits equal those of the model that wrote it (measured: bit for bit). Tolerance 1e-4 of the
     * largest logit: the static scale goes through one float multiply and back.
     */
    @Test
    void w8a8CheckpointsReloadWithTheirActivationQuantization() throws Exception {
        Path shared = Fixtures.property("fmsmo.shared").resolve("fixtures");
        if (!Files.isDirectory(shared.resolve("tiny-llama"))) {
            String reason = "skipped: " + shared + " is absent (../shared is not mounted)";
            System.out.println(reason);
            org.junit.jupiter.api.Assumptions.abort(reason);
        }
        Path work = Fixtures.freshDir("w8a8-" + System.nanoTime());
        Map<String, QuantConfig> cases = new LinkedHashMap<>();
        cases.put("fp8-dynamic", Recipes.qconfigInit("fp8_dynamic", Map.of()));
        cases.put("fp8-static", Recipes.qconfigInit("fp8_static", Map.of()));
        cases.put("int8-static", Recipes.qconfigInit("ptq_int8", Map.of("qw_mode", "maxperCh", "qa_mode", "maxsym", "qmodel_calibration", 8,
                "smoothq_fold_only", true)));
        try (PluginRegistry registry = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            for (Map.Entry<String, QuantConfig> c : cases.entrySet()) {
                try (TransformerModel m = new ModelLoader(registry).load(shared.resolve("tiny-llama"))) {
                    QuantPlan plan = ModelAnalyzer.plan(m, c.getValue());
                    CalibrationData calib = CalibrationData.fromText(m, shared.resolve("text/calib.txt"), 8, 128, 4);
                    registry.get(QuantMethodProvider.class, "ptq").create()
                            .quantize(new DefaultQuantContext(m, plan, c.getValue(), registry, ProgressListener.NONE, calib));
                    Path out = CheckpointFormats.write(m, "compressed-tensors", registry.get(CheckpointFormatProvider.class, "compressed-tensors").create(),
                            work.resolve(c.getKey()));
                    JsonNode input = JSON.readTree(out.resolve("config.json").toFile()).at("/quantization_config/config_groups/group_0/input_activations");
                    assertEquals(c.getKey().equals("fp8-dynamic"), input.get("dynamic").asBoolean(), c.getKey() + ": " + input);
                    float[] expected = logits(m);
                    try (TransformerModel back = new ModelLoader(registry).load(out)) {
                        float[] got = logits(back);
                        float worst = 0;
                        float largest = 0;
                        for (int i = 0; i < expected.length; i++) {
                            worst = Math.max(worst, Math.abs(expected[i] - got[i]));
                            largest = Math.max(largest, Math.abs(expected[i]));
                        }
                        System.out.println(c.getKey() + ": max |Δlogit| " + worst + " of max |logit| " + largest);
                        assertTrue(worst <= 1e-4 * largest, c.getKey() + ": max |Δlogit| " + worst + " of " + largest);
                        assertTrue(back.linear("model.layers.0.mlp.down_proj") instanceof org.fmsmo.core.quant.InputQuantizedLinear,
                                "the loaded layer quantizes its input");
                    }
                }
            }
        }
    }

    private static float[] logits(TransformerModel model) {
        try (ai.djl.ndarray.NDManager m = model.manager().newSubManager()) {
            long[] ids = new long[48];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = 1 + (i * 37) % 500;
            }
            return ((org.fmsmo.core.model.CausalLM) model).logits(m.create(ids, new ai.djl.ndarray.types.Shape(1, ids.length))).toFloatArray();
        }
    }

    private static int[] ints(SafetensorsFile f, String name) {
        long[] v = f.longs(name);
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (int) v[i];
        }
        return out;
    }

    /** pack-quantized: 8 nibbles per int32 along the row, low nibble first, value = code + 8; groups from g_idx. */
    private static float[] decodeCompressedTensors(SafetensorsFile f, String layer, int groupSize) {
        int[] shape = ints(f, layer + ".weight_shape");
        int rows = shape[0];
        int cols = shape[1];
        int[] packed = ints(f, layer + ".weight_packed");
        float[] scale = f.floats(layer + ".weight_scale");
        int groups = scale.length / rows;
        int[] gIdx = ints(f, layer + ".weight_g_idx");
        float[] w = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int word = packed[r * (cols / 8) + c / 8];
                int nibble = (word >> (4 * (c % 8))) & 0xF;
                w[r * cols + c] = (nibble - 8) * scale[r * groups + gIdx[c]];
            }
        }
        return w;
    }

    /** GPTQ v1: qweight [in/8, out] packed along the input; qzeros [groups, out/8] store zero − 1; scales F16 [groups, out]. */
    private static float[] decodeGptq(SafetensorsFile f, String layer) {
        int[] qweight = ints(f, layer + ".qweight");
        int[] qzeros = ints(f, layer + ".qzeros");
        int[] gIdx = ints(f, layer + ".g_idx");
        long[] sShape = f.info(layer + ".scales").shape();
        int out = (int) sShape[1];
        int in = gIdx.length;
        ByteBuffer half = f.bytes(layer + ".scales").asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        float[] w = new float[out * in];
        for (int c = 0; c < in; c++) {
            int g = gIdx[c];
            for (int r = 0; r < out; r++) {
                int q = (qweight[(c / 8) * out + r] >>> (4 * (c % 8))) & 0xF;
                int zero = ((qzeros[g * (out / 8) + r / 8] >>> (4 * (r % 8))) & 0xF) + 1;
                float s = Float.float16ToFloat(half.getShort((g * out + r) * 2));
                w[r * in + c] = (q - zero) * s;
            }
        }
        return w;
    }
}
