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

    private static SyntheticLlama fixture;

    @BeforeAll
    static void setUp() throws Exception {
        fixture = SyntheticLlama.create("qat-trainable", 64, 21, 3000, 13, 23);
    }

    @AfterAll
    static void tearDown() {
        fixture.close();
    }

    private static Map<String, float[]> trained(String trainable) {
        Path out = Quantization.of(fixture.model()).method("qat").recipe("qat_int8").format("fms").plugins(fixture.registry())
                .set(Map.of("qat_steps", 3, "qat_lr", 1e-2, "qat_trainable", trainable))
                .training(new TrainingSetup(fixture.text(), null, false, 16, 2, 3, null)).output(fixture.work().resolve(trainable)).run().output();
        return parameters(out);
    }

    private static Map<String, float[]> parameters(Path dir) {
        try (TransformerModel m = new ModelLoader(fixture.registry()).load(dir, false)) {
            Map<String, float[]> out = new java.util.TreeMap<>();
            for (Map.Entry<String, NDArray> e : m.parameters().entrySet()) {
                out.put(e.getKey(), e.getValue().toFloatArray());
            }
            return out;
        }
    }

    @Test
    void allMovesTheFloatParametersAndQuantizedLeavesThem() {
        Map<String, float[]> original = parameters(fixture.model());
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
