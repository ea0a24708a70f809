package org.fmsmo.core.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.SharedFixtures;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saving a loaded model gives a folder that loads back to the same model, with its companion files. */
class ModelWriterTest {

    /** The host's built-in providers only (no checkpoint format plugins): unquantized and native checkpoints. */
    private static final ModelLoader LOADER = new ModelLoader(org.fmsmo.core.plugin.PluginRegistry.builder().application().build());

    @TempDir
    Path tmp;

    @Test
    void tinyLlamaRoundTripsExactlyInF32AndCloselyInBf16() throws Exception {
        Path src = SharedFixtures.require("tiny-llama");
        try (TransformerModel original = LOADER.load(src); NDManager nd = NDManager.newBaseManager()) {
            Path f32 = ModelWriter.save(original, tmp.resolve("f32"), Dtype.F32, Long.MAX_VALUE);
            Path bf16 = ModelWriter.save(original, tmp.resolve("bf16"), Dtype.BF16, 1 << 20);
            for (String f : new String[] {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
                assertEquals(Files.readString(src.resolve(f)), Files.readString(f32.resolve(f)), f + " copied through");
            }
            assertEquals("bfloat16", HfConfig.read(bf16).string("torch_dtype"));
            try (SafetensorsModel st = SafetensorsModel.open(bf16)) {
                assertEquals(Dtype.BF16, st.info("model.layers.0.mlp.up_proj.weight").dtype());
            }
            long[] ids = original.tokenizer().encode("In the beginning God created the heaven and the earth.", true);
            NDArray expected = ((CausalLM) original).logits(nd.create(ids, new Shape(1, ids.length)));
            try (TransformerModel a = LOADER.load(f32); TransformerModel b = LOADER.load(bf16)) {
                assertTrue(expected.allClose(((CausalLM) a).logits(nd.create(ids, new Shape(1, ids.length))), 0, 0, false), "F32 is exact");
                NDArray approx = ((CausalLM) b).logits(nd.create(ids, new Shape(1, ids.length)));
                float maxErr = expected.sub(approx).abs().max().getFloat();
                assertTrue(maxErr > 0 && maxErr < 0.1f, "BF16 weights move logits a little, found max error " + maxErr);
            }
        }
    }

    @Test
    void refusesToWriteIntoTheSourceFolder() {
        Path dir = org.fmsmo.core.synthetic.SyntheticModel.write(tmp.resolve("m"),
                new org.fmsmo.core.synthetic.ModelShape("tiny", "llama", "LlamaForCausalLM", 32, 8, 12, 1, 2, 1, false, false, 10000.0, 2048, 1e-5, null),
                1, Long.MAX_VALUE);
        try (TransformerModel m = LOADER.load(dir, false)) {
            FmsmoException e = assertThrows(FmsmoException.class, () -> ModelWriter.save(m, dir.resolve("out"), Dtype.F32, Long.MAX_VALUE));
            assertTrue(e.getMessage().contains("never written"), e.getMessage());
            assertThrows(FmsmoException.class, () -> ModelWriter.save(m, tmp.resolve("x"), Dtype.F8_E4M3, Long.MAX_VALUE));
            assertTrue(!Files.exists(tmp.resolve("x")) && !Files.exists(dir.resolve("out")));
        }
    }
}
