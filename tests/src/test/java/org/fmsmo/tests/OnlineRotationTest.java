package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.Evaluator;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Test;

/**
 * {@code rotation=hadamard_online} (QuaRot with the online Hadamard before down_proj): a GPTQ W4A8
 * run writes an fms checkpoint that holds the run-time rotation and evaluates to the run's
 * perplexity; a deployable format, which cannot hold it, is refused before any work.
 */
class OnlineRotationTest {

    private static final ModelShape SHAPE = new ModelShape("rot-llama", "llama", "LlamaForCausalLM", 512, 128, 344, 2, 4, 2, false, false,
            10000.0, 256, 1e-5, null);

    @Test
    void gptqW4A8WithTheOnlineRotationReloadsFromFms() throws Exception {
        Path work = Fixtures.freshDir("online-rotation-" + System.nanoTime());
        Path model = SyntheticModel.write(work.resolve("model"), SHAPE, 17, SyntheticModel.HUB_SHARD_BYTES);
        StringBuilder words = new StringBuilder();
        for (int i = 0; i < 900; i++) {
            words.append('w').append((i * 13) % 500).append(i % 27 == 26 ? "\n" : " ");
        }
        Path text = Files.writeString(work.resolve("held-out.txt"), words);
        Map<String, Object> w4a8 = Map.of("qw_spec", "int4-sym-channel", "qw_mode", "maxfullperCh", "nbits_a", 8, "qa_mode", "pertokenmax",
                "rotation", "hadamard_online");
        try (PluginRegistry registry = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            QuantizationResult r = Quantization.of(model).method("gptq").set(w4a8).format("fms").output(work.resolve("fms")).plugins(registry)
                    .calibration(CalibrationSource.random(4, 32, 2, 5)).evaluate(text).run();
            assertFalse(r.streamed(), "a rotated run loads the model whole");
            double ppl = ((Number) r.evaluation().get("perplexity")).doubleValue();
            Map<String, Object> back = new Evaluator(new ModelLoader(registry)).evaluate(r.output(), new Evaluator.Options(text, null, 128, 8, 256),
                    org.fmsmo.api.quant.ProgressListener.NONE);
            assertEquals(ppl, ((Number) back.get("perplexity")).doubleValue(), 1e-9 * ppl, "the reloaded model rotates down_proj's input as the run did");

            FmsmoException e = assertThrows(FmsmoException.class, () -> Quantization.of(model).method("gptq").set(w4a8).format("compressed-tensors")
                    .output(work.resolve("ct")).plugins(registry).calibration(CalibrationSource.random(4, 32, 2, 5)).run());
            assertTrue(e.getMessage().startsWith("rotation=hadamard_online multiplies down_proj's input") && e.getMessage().contains("--format fms"),
                    e.getMessage());
            assertFalse(Files.exists(work.resolve("ct")));
        }
    }
}
