package org.fmsmo.core.rotation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.model.transformer.ResidualRotation;
import org.fmsmo.core.model.transformer.TransformerForCausalLM;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * QuaRot's offline rotations leave the float model's function unchanged: the logits of rotated
 * synthetic decoders (multi-head and grouped heads, with and without q/k/v biases, power-of-two and
 * other widths) equal the original's to 1e−5 of their scale; and the rotations are orthogonal.
 */
class ResidualRotationTest {

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 12, 48, 64, 344})
    void randomizedHadamardMatricesAreOrthogonal(int n) {
        float[] q = Orthogonal.randomizedHadamard(n, 7);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int k = 0; k < n; k++) {
                    dot += (double) q[i * n + k] * q[j * n + k];
                }
                assertEquals(i == j ? 1 : 0, dot, 1e-5, "row " + i + " · row " + j);
            }
        }
        if (Integer.bitCount(n) == 1) {
            for (float v : q) {
                assertEquals(1 / Math.sqrt(n), Math.abs(v), 1e-6, "a power of two is a pure Hadamard matrix: every entry ±1/√n");
            }
        }
    }

    @Test
    void rotatedDecodersComputeTheSameLogits() {
        ModelShape[] shapes = {
            new ModelShape("mha", "llama", "LlamaForCausalLM", 96, 64, 96, 2, 4, 4, false, false, 10000.0, 256, 1e-5, null),
            new ModelShape("gqa", "llama", "LlamaForCausalLM", 96, 64, 88, 2, 4, 2, false, false, 10000.0, 256, 1e-5, null),
            new ModelShape("qwen", "qwen2", "Qwen2ForCausalLM", 96, 48, 80, 2, 4, 2, false, true, 10000.0, 256, 1e-6, null),
        };
        PluginRegistry registry = PluginRegistry.builder().application().build();
        for (ModelShape shape : shapes) {
            for (boolean online : new boolean[] {false, true}) {
                String name = shape.name() + (online ? " with the online down_proj rotation" : "");
                try (TransformerModel model = new ModelLoader(registry).load(SyntheticModel.write(tmp.resolve(shape.name() + online), shape, 3,
                        Long.MAX_VALUE), false); NDManager nd = NDManager.newBaseManager()) {
                    NDArray ids = nd.create(new long[] {1, 5, 9, 13, 17, 21, 25, 29, 33, 37}, new Shape(2, 5));
                    float[] before = ((CausalLM) model).logits(ids).toFloatArray();
                    ResidualRotation.apply((TransformerForCausalLM) model, 11, online);
                    float[] after = ((CausalLM) model).logits(ids).toFloatArray();
                    double max = 0;
                    double diff = 0;
                    for (int i = 0; i < before.length; i++) {
                        max = Math.max(max, Math.abs(before[i]));
                        diff = Math.max(diff, Math.abs(before[i] - after[i]));
                    }
                    assertTrue(diff <= 1e-5 * max, name + ": max |Δlogit| " + diff + " of max |logit| " + max);
                    float[] gain = ((org.fmsmo.core.nn.RmsNorm) model.module("model.layers.1.input_layernorm")).weight().toFloatArray();
                    for (float g : gain) {
                        assertEquals(1f, g, 0f, name + ": the norm's gain is folded into the layers that read it");
                    }
                    assertEquals(online, ((org.fmsmo.core.nn.Linear) model.linear("model.layers.1.mlp.down_proj")).inputRotation().isPresent(), name);
                }
            }
        }
    }

    @Test
    void aHeadTiedToTheEmbeddingIsRefused() {
        ModelShape tied = new ModelShape("tied", "llama", "LlamaForCausalLM", 96, 64, 96, 1, 4, 4, true, false, 10000.0, 256, 1e-5, null);
        try (TransformerModel model = new ModelLoader(PluginRegistry.builder().application().build())
                .load(SyntheticModel.write(tmp.resolve("tied"), tied, 3, Long.MAX_VALUE), false)) {
            FmsmoException e = assertThrows(FmsmoException.class, () -> ResidualRotation.apply((TransformerForCausalLM) model, 1));
            assertTrue(e.getMessage().contains("tied"), e.getMessage());
        }
    }
}
