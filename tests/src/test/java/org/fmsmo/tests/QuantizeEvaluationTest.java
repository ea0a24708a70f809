package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.Evaluator;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Test;

/**
 * A quantization run asked to evaluate ends with the quantized model against its input on
 * held-out text: the numbers {@code fmsmo eval --reference} gives for the two folders, for a
 * streamed decoder run as for a whole one.
 */
class QuantizeEvaluationTest {

    @Test
    void aRunEndsWithPerplexityBeforeAndAfterAsEvalMeasuresIt() throws Exception {
        Path work = Fixtures.freshDir("quantize-eval");
        ModelShape shape = new ModelShape("eval-llama", "llama", "LlamaForCausalLM", 512, 128, 256, 2, 4, 2, false, false, 10000.0, 256, 1e-5, null);
        Path model = SyntheticModel.write(work.resolve("model"), shape, 5, SyntheticModel.HUB_SHARD_BYTES);
        Path text = work.resolve("held-out.txt");
        StringBuilder words = new StringBuilder();
        for (int i = 0; i < 1200; i++) {
            words.append('w').append((i * 7) % 500).append(i % 29 == 28 ? "\n" : " ");
        }
        Files.writeString(text, words);
        try (PluginRegistry plugins = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            Map<String, Object> settings = Map.of("nbits_w", 4, "nbits_a", 32, "qw_spec", "int4-sym-group32", "qw_mode", "maxperGp");
            QuantizationResult r = Quantization.of(model).method("rtn").recipe("ptq_int8").set(settings).format("compressed-tensors").plugins(plugins)
                    .calibration(CalibrationSource.random(4, 32, 2, 3)).evaluate(text).output(work.resolve("out")).run();
            assertTrue(r.streamed(), "a decoder streams: " + r.whyNotStreamed());
            Map<String, Object> e = r.evaluation();
            double before = ((Number) e.get("reference_perplexity")).doubleValue();
            double after = ((Number) e.get("perplexity")).doubleValue();
            assertTrue(after != before && after > 0.5 * before && after < 2 * before, "W4 moves the perplexity a little: " + before + " → " + after);
            Evaluator eval = new Evaluator(new ModelLoader(plugins));
            Evaluator.Options o = new Evaluator.Options(text, null, 128, 8, 256, Streaming.AUTO);
            assertEquals(((Number) eval.evaluate(model, o, ProgressListener.NONE).get("perplexity")).doubleValue(), before, 1e-9 * before,
                    "the float model's perplexity, as eval gives it");
            assertEquals(((Number) eval.evaluate(r.output(), o, ProgressListener.NONE).get("perplexity")).doubleValue(), after, 1e-9 * after,
                    "the written model's perplexity, as eval gives it");
            assertTrue(r.stageSeconds().containsKey("evaluate"));
            QuantizationResult bounded = Quantization.of(model).method("rtn").recipe("ptq_int8").set(settings).format("compressed-tensors").plugins(plugins)
                    .calibration(CalibrationSource.random(4, 32, 2, 3)).evaluate(text).evaluationTokens(300).output(work.resolve("bounded")).run();
            long evaluated = ((Number) bounded.evaluation().get("tokens")).longValue();
            assertTrue(evaluated > 0 && evaluated <= 300, "--eval-tokens 300 bounds the held-out text: " + evaluated + " tokens");
            QuantizationResult quiet = Quantization.of(model).method("rtn").recipe("ptq_int8").set(settings).format("compressed-tensors").plugins(plugins)
                    .calibration(CalibrationSource.random(4, 32, 2, 3)).output(work.resolve("quiet")).run();
            assertNull(quiet.evaluation(), "a run not asked to evaluate does not");
        }
    }
}
