package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.KvCacheScales;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.Evaluator;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Test;

/**
 * The FP8 KV cache ({@code kv_cache_scheme=fp8}) after a weight method: keys and values get one
 * calibrated e4m3 scale per tensor; compressed-tensors stores them as vLLM reads them
 * ({@code kv_cache_scheme}, {@code self_attn.k_scale} / {@code v_scale} = amax / 448) and a
 * loaded checkpoint computes with them, so {@code eval} gives the run's own perplexity — for a
 * streamed run and for one that loads the model whole (the native format).
 */
class KvCacheTest {

    private static final ModelShape SHAPE = new ModelShape("kv-llama", "llama", "LlamaForCausalLM", 512, 128, 256, 2, 4, 2, false, false,
            10000.0, 256, 1e-5, null);
    private static final Map<String, Object> W4 = Map.of("nbits_w", 4, "nbits_a", 32, "qw_spec", "int4-sym-group32", "qw_mode", "maxfullperGp",
            "kv_cache_scheme", "fp8");

    @Test
    void keysAndValuesGetStaticFp8ScalesThatTheCheckpointKeepsAndEvalUses() throws Exception {
        Path work = Fixtures.freshDir("kv-cache");
        Path model = SyntheticModel.write(work.resolve("model"), SHAPE, 5, SyntheticModel.HUB_SHARD_BYTES);
        Path text = words(work);
        try (PluginRegistry plugins = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            Evaluator eval = new Evaluator(new ModelLoader(plugins));
            Evaluator.Options o = new Evaluator.Options(text, null, 128, 8, 256, Streaming.AUTO);
            for (String format : List.of("compressed-tensors", "fms")) {
                QuantizationResult r = Quantization.of(model).method("rtn").recipe("ptq_int8").set(W4).format(format).plugins(plugins)
                        .calibration(CalibrationSource.random(4, 32, 2, 3)).evaluate(text).output(work.resolve(format)).run();
                assertEquals(4, r.attentionMatmulsQuantized(), format + ": q·kᵀ and p·v of both layers");
                double after = ((Number) r.evaluation().get("perplexity")).doubleValue();
                assertEquals(((Number) eval.evaluate(r.output(), o, ProgressListener.NONE).get("perplexity")).doubleValue(), after, 1e-9 * after,
                        format + ": the written model computes with the same KV-cache scales");
                try (TransformerModel back = new ModelLoader(plugins).load(r.output())) {
                    List<KvCacheScales> kv = back.kvCache();
                    assertEquals(List.of("model.layers.0.self_attn", "model.layers.1.self_attn"), kv.stream().map(KvCacheScales::attention).toList());
                    for (KvCacheScales c : kv) {
                        assertEquals("fp8_e4m3-sym-tensor-minmax", c.spec().toString());
                        assertTrue(c.keyScale() > 0 && c.keyScale() < 1 && c.valueScale() > 0 && c.valueScale() < 1, c.toString());
                    }
                }
            }
            JsonNode qc = new ObjectMapper().readTree(work.resolve("compressed-tensors/config.json").toFile()).get("quantization_config");
            JsonNode kv = qc.get("kv_cache_scheme");
            assertEquals(8, kv.get("num_bits").asInt());
            assertEquals("float", kv.get("type").asText());
            assertEquals("tensor", kv.get("strategy").asText());
            assertEquals(false, kv.get("dynamic").asBoolean());
            try (SafetensorsModel st = SafetensorsModel.open(work.resolve("compressed-tensors"))) {
                float[] k = st.floats("model.layers.1.self_attn.k_scale");
                assertEquals(1, k.length);
                try (TransformerModel back = new ModelLoader(plugins).load(work.resolve("compressed-tensors"))) {
                    assertEquals(k[0], back.kvCache().get(1).keyScale(), 0f, "the stored k_scale is the one computed with");
                }
            }
        }
    }

    @Test
    void aMissingScaleOrAFormatWithoutAKvCacheIsRefused() throws Exception {
        Path work = Fixtures.freshDir("kv-cache-bad");
        Path model = SyntheticModel.write(work.resolve("model"), SHAPE, 5, SyntheticModel.HUB_SHARD_BYTES);
        try (PluginRegistry plugins = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            FmsmoException e = assertThrows(FmsmoException.class, () -> Quantization.of(model).method("rtn").recipe("ptq_int8").set(W4)
                    .format("gptq").plugins(plugins).calibration(CalibrationSource.random(4, 32, 2, 3)).output(work.resolve("gptq")).run());
            assertTrue(e.getMessage().contains("GPTQ v1 holds weights only"), e.getMessage());
            assertTrue(!Files.exists(work.resolve("gptq")), "nothing written");
            Map<String, Object> weightsOnly = new java.util.HashMap<>(W4);
            weightsOnly.remove("kv_cache_scheme");
            Path out = Quantization.of(model).method("rtn").recipe("ptq_int8").set(weightsOnly).format("compressed-tensors").plugins(plugins)
                    .calibration(CalibrationSource.random(4, 32, 2, 3)).output(work.resolve("ct")).run().output();
            // A config that names an FP8 cache over weights that hold no k_scale / v_scale (vLLM would run it with scale 1).
            Path broken = work.resolve("broken");
            Fixtures.copyTree(out, broken);
            ObjectMapper json = new ObjectMapper();
            ObjectNode config = (ObjectNode) json.readTree(broken.resolve("config.json").toFile());
            ObjectNode scheme = ((ObjectNode) config.get("quantization_config")).putObject("kv_cache_scheme");
            scheme.put("num_bits", 8).put("type", "float").put("strategy", "tensor").put("dynamic", false).put("symmetric", true);
            Files.delete(broken.resolve("SHA256SUMS"));
            json.writeValue(broken.resolve("config.json").toFile(), config);
            FmsmoException missing = assertThrows(FmsmoException.class, () -> new ModelLoader(plugins).load(broken));
            assertTrue(missing.getMessage().contains("kv_cache_scheme") || missing.getMessage().contains("k_scale"), missing.getMessage());
        }
    }

    /** Word-level text of the synthetic model's vocabulary. */
    private static Path words(Path work) throws java.io.IOException {
        StringBuilder words = new StringBuilder();
        for (int i = 0; i < 1200; i++) {
            words.append('w').append((i * 7) % 500).append(i % 29 == 28 ? "\n" : " ");
        }
        return Files.writeString(work.resolve("held-out.txt"), words);
    }
}
