package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.core.checkpoint.CheckpointFormats;
import org.fmsmo.core.checkpoint.FmsFormat;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.quant.QLinear;
import org.fmsmo.core.recipe.Recipes;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.fmsmo.tck.CheckpointFormatConformance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fmsmo's own format, {@code fms}, against the checkpoint-format conformance kit, plus what sets
 * it apart: it records its name but no {@code quantization_config} (Hugging Face loaders read it
 * as a float model), stores F32 whatever the source dtype, keeps the run's config, and reloads
 * with its wrappers — also from a folder written before the name was recorded.
 */
class FmsFormatConformanceTest extends CheckpointFormatConformance {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Override
    protected CheckpointFormatProvider provider() {
        return new FmsFormat.Provider();
    }

    /** The distribution's plugins: rtn quantizes what the format writes. */
    @Override
    protected PluginRegistry.Builder host() {
        return PluginRegistry.builder().application().pluginsDirectory(Fixtures.distribution().resolve("plugins"));
    }

    /** The fms description is each layer's entry in fms_quant_layers.json: keep only the names. */
    @Override
    protected void stripDescription(Path folder) throws IOException {
        Path file = folder.resolve(FmsFormat.LAYERS_FILE);
        ObjectNode root = (ObjectNode) JSON.readTree(file.toFile());
        ArrayNode stripped = JSON.createArrayNode();
        root.get("layers").forEach(e -> stripped.addObject().set("name", e.get("name")));
        root.set("layers", stripped);
        Files.writeString(file, root.toPrettyString());
    }

    private Path quantized(PluginRegistry plugins, Path model) {
        return Quantization.of(model).method("ptq").format(FmsFormat.NAME).recipe("ptq_int8").plugins(plugins)
                .set(Map.of("nbits_a", 8, "qw_spec", "int4-sym-group8", "qw_mode", "maxperGp"))
                .calibration(CalibrationSource.random(4, 16, 2, 3)).output(tmp.resolve("fms")).run().output();
    }

    private Path bf16Llama() {
        ModelShape shape = new ModelShape("fms-llama", "llama", "LlamaForCausalLM", 256, 64, 128, 2, 4, 2, false, false, 10000.0, 128, 1e-5, null);
        return SyntheticModel.write(tmp.resolve("llama"), shape, 5, SyntheticModel.HUB_SHARD_BYTES);
    }

    @Test
    void recordsItsNameButNoQuantizationConfigAndStoresF32WithTheRunConfig() throws Exception {
        Path model = bf16Llama();
        try (PluginRegistry plugins = host().build()) {
            Path out = quantized(plugins, model);
            JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
            assertEquals(FmsFormat.NAME, config.path(CheckpointFormats.FORMAT_KEY).asText());
            assertFalse(config.has("quantization_config"), "a Hugging Face loader reads an fms folder as a float model");
            assertEquals("float32", config.path("torch_dtype").asText());
            assertTrue(Files.isRegularFile(out.resolve(Recipes.CONFIG_FILE)), "the run's config is kept beside the model");
            try (SafetensorsModel src = SafetensorsModel.open(model); SafetensorsModel written = SafetensorsModel.open(out)) {
                assertEquals(Dtype.BF16, src.info("model.layers.0.self_attn.q_proj.weight").dtype());
                assertEquals(Dtype.F32, written.info("model.layers.0.self_attn.q_proj.weight").dtype(), "weights that may still be trained are kept in F32");
                assertEquals(Dtype.F32, written.info("model.norm.weight").dtype());
                assertTrue(written.names().contains("model.layers.0.self_attn.q_proj.quantize_weight.codes"));
                assertTrue(written.names().contains("model.layers.0.self_attn.q_proj.quantize_feature.clip_val"), "the input quantizer's calibrated state");
            }
        }
    }

    @Test
    void aFolderWrittenBeforeTheNameWasRecordedStillReloadsWithItsWrappers() throws Exception {
        Path model = bf16Llama();
        try (PluginRegistry plugins = host().build()) {
            Path out = quantized(plugins, model);
            ModelLoader loader = new ModelLoader(plugins);
            byte[] expected;
            try (TransformerModel m = loader.load(out)) {
                expected = ((QLinear) m.linear("model.layers.1.mlp.down_proj")).frozenWeight().codes().toByteArray();
            }
            ObjectNode config = (ObjectNode) JSON.readTree(out.resolve("config.json").toFile());
            config.remove(CheckpointFormats.FORMAT_KEY);
            Files.writeString(out.resolve("config.json"), config.toPrettyString());
            try (TransformerModel m = loader.load(out)) {
                QLinear q = assertInstanceOf(QLinear.class, m.linear("model.layers.1.mlp.down_proj"), "found by its layers file, as before 1.5");
                assertTrue(q.inputQuantizer().isPresent());
                assertArrayEquals(expected, q.frozenWeight().codes().toByteArray());
            }
        }
    }
}
