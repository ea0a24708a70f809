package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.Evaluator;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Quantized attention matmuls on {@code cpu-reference}: a model written with {@code QBmm=true}
 * (INT8 with asymmetric static operands, FP8 e4m3) or an FP8 KV cache, evaluated with the backend
 * running every linear layer and every attention matmul. Each backend matmul is compared with its
 * simulated {@code QBmm} on the inputs the model feeds it (layer check), and the perplexity with
 * the run's own.
 */
class AttentionOnBackendTest {

    private static SyntheticLlama fixture;

    @BeforeAll
    static void setUp() throws Exception {
        fixture = SyntheticLlama.create("attention", 128, 17, 900, 7, 29);
    }

    @AfterAll
    static void tearDown() {
        fixture.close();
    }

    private static void check(String method, String recipe, String out, Map<String, Object> set) {
        Quantization q = Quantization.of(fixture.model()).method(method);
        if (recipe != null) {
            q.recipe(recipe);
        }
        QuantizationResult r = q.set(set).format("fms").output(fixture.work().resolve(out)).plugins(fixture.registry())
                .calibration(CalibrationSource.random(4, 32, 2, 5)).evaluate(fixture.text()).run();
        double simulated = ((Number) r.evaluation().get("perplexity")).doubleValue();
        try (DeployBackend cpu = fixture.registry().get(DeployBackendProvider.class, "cpu-reference").create(Map.of())) {
            Map<String, Object> on = new Evaluator(new ModelLoader(fixture.registry())).evaluate(r.output(), new Evaluator.Options(fixture.text(), null, 128, 8, 256,
                    "cpu-reference", cpu, true, Streaming.AUTO), ProgressListener.NONE);
            assertEquals(4, ((Number) on.get("backend_matmuls")).intValue(), out + ": both matmuls of both layers on the backend: " + on);
            assertEquals(List.of(), on.get("simulated_matmuls"));
            @SuppressWarnings("unchecked")
            Map<String, Object> layerCheck = (Map<String, Object>) on.get("layer_check");
            assertEquals(18, ((Number) layerCheck.get("layers_checked")).intValue(), "14 linears and 4 matmuls compared: " + layerCheck);
            assertTrue(((Number) layerCheck.get("max_relative_error")).doubleValue() <= 1e-5, out + ": backend vs simulated " + layerCheck);
            // each matmul agrees to float rounding; over two blocks and many windows an occasional code lands one step apart
            assertEquals(simulated, ((Number) on.get("perplexity")).doubleValue(), 1e-3 * simulated, out);
        }
    }

    @Test
    void int8OperandsWithZeroPoints() {
        check("ptq", null, "int8", Map.of("nbits_w", 8, "nbits_a", 8, "qw_mode", "maxperCh", "qa_mode", "minmax", "smoothq", false, "QBmm", true));
    }

    @Test
    void fp8Operands() {
        check("fp8", "fp8_static", "fp8", Map.of("QBmm", true));
    }

    @Test
    void anFp8KvCacheBesideFp8Linears() {
        check("fp8", "fp8_dynamic", "kv", Map.of("kv_cache_scheme", "fp8"));
    }
}
