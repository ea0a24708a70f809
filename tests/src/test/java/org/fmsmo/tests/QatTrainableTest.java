package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.TrainingSetup;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code qat_trainable}: by default QAT trains every float parameter, as a training loop over
 * {@code model.parameters()} does (the embeddings, the norms and the float head move with the
 * quantized layers); {@code quantized} trains only the quantized layers' weights and biases and
 * leaves the rest of the checkpoint as it was.
 */
class QatTrainableTest {

    private static final ModelShape SHAPE = new ModelShape("qat-llama", "llama", "LlamaForCausalLM", 512, 64, 128, 2, 4, 2, false, false,
            10000.0, 256, 1e-5, null);

    private static Path work;
    private static Path model;
    private static Path text;
    private static PluginRegistry registry;

    @BeforeAll
    static void setUp() throws Exception {
        work = Fixtures.freshDir("qat-trainable-" + System.nanoTime());
        model = SyntheticModel.write(work.resolve("model"), SHAPE, 21, SyntheticModel.HUB_SHARD_BYTES);
        StringBuilder words = new StringBuilder();
        for (int i = 0; i < 3000; i++) {
            words.append('w').append((i * 13) % 500).append(i % 23 == 22 ? "\n" : " ");
        }
        text = Files.writeString(work.resolve("train.txt"), words);
        registry = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"));
    }

    @AfterAll
    static void tearDown() {
        registry.close();
    }

    private static Map<String, float[]> trained(String trainable) {
        Path out = Quantization.of(model).method("qat").recipe("qat_int8").format("fms").plugins(registry)
                .set(Map.of("qat_steps", 3, "qat_lr", 1e-2, "qat_trainable", trainable))
                .training(new TrainingSetup(text, null, false, 16, 2, 3, null)).output(work.resolve(trainable)).run().output();
        return parameters(out);
    }

    private static Map<String, float[]> parameters(Path dir) {
        try (TransformerModel m = new ModelLoader(registry).load(dir, false)) {
            Map<String, float[]> out = new java.util.TreeMap<>();
            for (Map.Entry<String, NDArray> e : m.parameters().entrySet()) {
                out.put(e.getKey(), e.getValue().toFloatArray());
            }
            return out;
        }
    }

    @Test
    void allMovesTheFloatParametersAndQuantizedLeavesThem() {
        Map<String, float[]> original = parameters(model);
        Map<String, float[]> all = trained("all");
        Map<String, float[]> quantized = trained("quantized");
        for (String name : new String[] {"model.embed_tokens.weight", "model.norm.weight", "model.layers.0.input_layernorm.weight", "lm_head.weight"}) {
            assertFalse(Arrays.equals(original.get(name), all.get(name)), name + " trains with qat_trainable=all");
            assertArrayEquals(original.get(name), quantized.get(name), 0f, name + " stays with qat_trainable=quantized");
        }
        String layer = "model.layers.1.mlp.down_proj.weight";
        assertFalse(Arrays.equals(original.get(layer), all.get(layer)), "quantized layers train either way");
        assertFalse(Arrays.equals(original.get(layer), quantized.get(layer)), "quantized layers train either way");
        assertTrue(all.keySet().equals(quantized.keySet()));
    }
}
