package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.Evaluator;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code llm_int8} (the outlier plugin) at its two limits, against other methods: with a threshold
 * no input reaches, it is plain W8A8 with per-token INT8 inputs ({@code ptq}, {@code pertokenmax});
 * with one every input passes, its inputs stay float and it is weight-only INT8. In between, it
 * reports each layer's outlier fraction, its fms checkpoint evaluates to the run's perplexity, and
 * compressed-tensors, which has no way to say that some channels stay float, refuses it.
 */
class OutlierDecompositionTest {

    private static SyntheticLlama fixture;

    @BeforeAll
    static void setUp() throws Exception {
        fixture = SyntheticLlama.create("outlier", 128, 13, 900, 11, 31);
    }

    @AfterAll
    static void tearDown() {
        fixture.close();
    }

    private static QuantizationResult run(String method, String out, Map<String, Object> set) {
        Map<String, Object> s = new HashMap<>(Map.of("nbits_w", 8, "qw_mode", "maxperCh", "smoothq", false));
        s.putAll(set);
        return Quantization.of(fixture.model()).method(method).set(s).format("fms").output(fixture.work().resolve(out)).plugins(fixture.registry())
                .calibration(CalibrationSource.random(4, 32, 2, 5)).evaluate(fixture.text()).run();
    }

    private static double perplexity(QuantizationResult r) {
        return ((Number) r.evaluation().get("perplexity")).doubleValue();
    }

    @Test
    void atItsLimitsItIsPlainW8A8OrWeightOnly() {
        double none = perplexity(run("llm_int8", "none-outlier", Map.of("nbits_a", 8, "llm_int8_threshold", 1e6)));
        double perToken = perplexity(run("ptq", "per-token", Map.of("nbits_a", 8, "qa_mode", "pertokenmax")));
        assertEquals(perToken, none, 1e-9 * perToken, "no outliers: per-token INT8 inputs");
        double all = perplexity(run("llm_int8", "all-outlier", Map.of("nbits_a", 8, "llm_int8_threshold", 1e-3)));
        double weightOnly = perplexity(run("ptq", "weight-only", Map.of("nbits_a", 32)));
        assertEquals(weightOnly, all, 1e-9 * weightOnly, "every channel an outlier: float inputs");
        assertTrue(perToken != weightOnly, "the limits differ, so the checks above can fail");
    }

    @Test
    void reportsOutlierFractionsAndItsFmsCheckpointEvaluatesToTheRun() {
        QuantizationResult r = run("llm_int8", "mid", Map.of("nbits_a", 4, "llm_int8_threshold", 2.0));
        double sum = 0;
        for (var l : r.report().layers()) {
            double f = l.metrics().get("outlier_fraction");
            assertTrue(f >= 0 && f <= 1, l.name() + " " + f);
            assertTrue(l.metrics().get("outlier_channels_max") <= 256, l.name());
            sum += f;
        }
        assertTrue(sum > 0, "some layer had outlier channels at threshold 2");
        Map<String, Object> back = new Evaluator(new ModelLoader(fixture.registry())).evaluate(r.output(),
                new Evaluator.Options(fixture.text(), null, 128, 8, 256), org.fmsmo.api.quant.ProgressListener.NONE);
        assertEquals(perplexity(r), ((Number) back.get("perplexity")).doubleValue(), 1e-9 * perplexity(r), "the reloaded threshold splits the same");

        // cpu-reference: the inlier channels in true INT8 with exact int32 sums, the outliers in float; layer by layer as simulated
        try (org.fmsmo.api.deploy.DeployBackend cpu = fixture.registry().get(org.fmsmo.api.deploy.DeployBackendProvider.class, "cpu-reference")
                .create(Map.of("verify_accumulators", "true"))) {
            Map<String, Object> on = new Evaluator(new ModelLoader(fixture.registry())).evaluate(r.output(), new Evaluator.Options(fixture.text(), null, 128, 8, 256,
                    "cpu-reference", cpu, true, org.fmsmo.core.model.Streaming.AUTO), org.fmsmo.api.quant.ProgressListener.NONE);
            assertEquals(14, ((Number) on.get("backend_layers")).intValue(), "every layer on the backend: " + on);
            @SuppressWarnings("unchecked")
            Map<String, Object> check = (Map<String, Object>) on.get("layer_check");
            assertTrue(((Number) check.get("max_relative_error")).doubleValue() <= 1e-5, "backend vs simulated: " + check);
            @SuppressWarnings("unchecked")
            Map<String, Object> verified = (Map<String, Object>) ((Map<String, Object>) on.get("backend_diagnostics")).get("accumulators_verified");
            assertEquals(0, ((Number) verified.get("mismatches")).intValue(), "int32 sums exact: " + verified);
            assertEquals(perplexity(r), ((Number) on.get("perplexity")).doubleValue(), 1e-4 * perplexity(r));
        }
    }

    @Test
    void compressedTensorsRefusesIt() {
        FmsmoException e = assertThrows(FmsmoException.class, () -> Quantization.of(fixture.model()).method("llm_int8").set(Map.of("nbits_w", 8,
                "qw_mode", "maxperCh", "nbits_a", 8)).format("compressed-tensors").output(fixture.work().resolve("ct")).plugins(fixture.registry())
                .calibration(CalibrationSource.random(4, 32, 2, 5)).run());
        assertTrue(e.getMessage().contains("input quantizer 'llm_int8' keeps [threshold]") && e.getMessage().contains("--format fms"), e.getMessage());
        assertTrue(!Files.exists(fixture.work().resolve("ct")), "nothing written");
    }
}
