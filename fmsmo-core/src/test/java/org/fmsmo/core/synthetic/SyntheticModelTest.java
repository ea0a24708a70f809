package org.fmsmo.core.synthetic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticModelTest {

    /** The published parameter counts (safetensors total_size / 2 of the BF16 hub checkpoints). */
    @Test
    void presetsHaveThePublishedParameterCounts() {
        assertEquals(8_030_261_248L, ModelShape.preset("llama-3-8b").parameters());
        assertEquals(1_235_814_400L, ModelShape.preset("llama-3.2-1b").parameters());
        assertEquals(7_248_023_552L, ModelShape.preset("mistral-7b").parameters());
        FmsmoException e = assertThrows(FmsmoException.class, () -> ModelShape.preset("llama-9"));
        assertTrue(e.getMessage().contains("llama-3-8b, llama-3.2-1b, mistral-7b, qwen2.5-7b"), e.getMessage());
    }

    @Test
    void weightsLookTrainedAndTheFolderLoads(@TempDir Path tmp) {
        ModelShape s = ModelShape.preset("llama-3.2-1b").withLayers(1);
        ModelShape small = new ModelShape("t", s.modelType(), s.architecture(), 300, 256, 512, 2, 4, 2, true, false, s.ropeTheta(), 64,
                s.rmsNormEps(), s.ropeScaling());
        Path dir = SyntheticModel.write(tmp.resolve("m"), small, 3, 200_000);
        try (SafetensorsModel m = SafetensorsModel.open(dir)) {
            float[] w = m.floats("model.layers.1.mlp.up_proj.weight");
            double sum = 0;
            double sq = 0;
            for (float v : w) {
                sum += v;
                sq += v * v;
            }
            double mean = sum / w.length;
            double std = Math.sqrt(sq / w.length - mean * mean);
            assertEquals(0, mean, 5e-4);
            assertEquals(SyntheticModel.WEIGHT_STD, std, 5e-4);
            float[] norm = m.floats("model.layers.0.input_layernorm.weight");
            int[] outliers = SyntheticModel.outlierChannels(256, 3);
            assertTrue(outliers.length >= 2);
            for (int c = 0; c < norm.length; c++) {
                boolean outlier = java.util.Arrays.binarySearch(outliers, c) >= 0;
                assertTrue(outlier ? norm[c] >= 8 && norm[c] <= 16 : Math.abs(norm[c] - 1) < 0.3, "channel " + c + ": " + norm[c]);
            }
            assertTrue(!m.names().contains("lm_head.weight"), "tied embeddings store no head");
        }
        org.fmsmo.api.arch.TransformerSpec c = (org.fmsmo.api.arch.TransformerSpec) new org.fmsmo.core.arch.Decoders.Llama()
                .describe(org.fmsmo.core.hf.HfConfig.read(dir));
        assertEquals(2, c.numLayers());
        try (HfTokenizer tok = HfTokenizer.open(dir)) {
            assertEquals(299, tok.encode("w299", false)[0]);
        }
    }
}
