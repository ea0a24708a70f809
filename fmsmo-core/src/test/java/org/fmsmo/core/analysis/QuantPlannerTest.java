package org.fmsmo.core.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.core.model.LayerTable;
import org.fmsmo.core.nn.Linear;
import org.junit.jupiter.api.Test;

class QuantPlannerTest {

    private static LayerTable model(NDManager m) {
        return new LayerTable("Test", m, List.of(
                new Linear("model.layers.0.self_attn.q_proj", m.ones(new Shape(2, 2)), null),
                new Linear("model.layers.0.mlp.down_proj", m.ones(new Shape(2, 2)), null),
                new Linear("lm_head", m.ones(new Shape(2, 2)), null)));
    }

    @Test
    void defaultsQuantizeEveryLinearButTheHead() {
        try (NDManager m = NDManager.newBaseManager()) {
            QuantPlan plan = QuantPlanner.plan(model(m), QuantConfig.empty().with("nbits_w", 4));
            assertEquals(List.of(true, true, false), plan.layers().stream().map(LayerDecision::quantize).toList());
            assertEquals(QuantSpec.parse("int4-sym-channel"), plan.layers().getFirst().weightSpec());
            assertTrue(plan.decision("lm_head").orElseThrow().reason().contains("qskip_lm_head"));
        }
    }

    @Test
    void anFp8KvCacheQuantizesOnlyTheKeysAndValues() {
        List<String> bmms = List.of("model.layers.0.self_attn.bmm1", "model.layers.0.self_attn.bmm2");
        List<String> linears = List.of("model.layers.0.self_attn.q_proj");
        QuantConfig cfg = QuantConfig.empty().with("nbits_w", 4).with("kv_cache_scheme", "fp8");
        QuantPlan plan = QuantPlanner.plan(linears, bmms, List.of(), Map.of(), java.util.Set.of(), cfg);
        assertEquals(bmms, plan.quantizedBmms().stream().map(LayerDecision::name).toList());
        for (LayerDecision d : plan.quantizedBmms()) {
            assertEquals(null, d.inputSpec(), "queries and probabilities stay in float");
            assertEquals(QuantSpec.parse("fp8_e4m3-sym-tensor-minmax"), d.weightSpec(), "keys and values: e4m3, one static scale per tensor");
        }
        assertTrue(plan.decision("model.layers.0.self_attn.bmm2").orElseThrow().reason().contains("values"));
        assertTrue(QuantPlanner.plan(linears, bmms, List.of(), Map.of(), java.util.Set.of(), cfg.with("kv_cache_scheme", "none")).quantizedBmms().isEmpty());
    }

    @Test
    void skipListsAndPatternsAsInFmsMo() {
        try (NDManager m = NDManager.newBaseManager()) {
            QuantConfig cfg = QuantConfig.empty().with("qskip_layer_name", List.of("model.layers.0.mlp.down_proj"))
                    .with("qlayer_name_pattern", "self_attn").with("qskip_lm_head", false).with("qa_spec", "int8-token");
            QuantPlan plan = QuantPlanner.plan(model(m), cfg);
            assertEquals(List.of("model.layers.0.self_attn.q_proj"), plan.quantized().stream().map(LayerDecision::name).toList());
            assertEquals("listed in qskip_layer_name", plan.decision("model.layers.0.mlp.down_proj").orElseThrow().reason());
            assertEquals("matches no qlayer_name_pattern", plan.decision("lm_head").orElseThrow().reason());
            assertEquals(QuantSpec.parse("int8-token"), plan.quantized().getFirst().inputSpec());
            assertThrows(FmsmoException.class, () -> QuantPlanner.plan(model(m), QuantConfig.empty().with("qlayer_name_pattern", "(")));
        }
    }
}
