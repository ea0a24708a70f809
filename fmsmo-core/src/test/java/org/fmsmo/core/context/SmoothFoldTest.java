package org.fmsmo.core.context;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.fmsmo.api.quant.InputGroup;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.core.analysis.ModelAnalyzer;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Folding a per-channel input scale into the layer that produces the input: the analyzer finds
 * v_proj before o_proj (only without grouped heads) and up_proj before down_proj, and
 * {@link DefaultQuantContext#smooth} divides that layer's rows — its float weight, or a frozen
 * layer's scales with the codes kept — so the model computes the same function.
 */
class SmoothFoldTest {

    /** Multi-head attention (4 heads, 4 KV heads): o_proj's input channels are v_proj's. */
    private static final ModelShape MHA = new ModelShape("mha", "llama", "LlamaForCausalLM", 64, 16, 24, 1, 4, 4, false, false, 10000.0,
            2048, 1e-5, null);
    /** Grouped-query attention (4 heads, 2 KV heads): v_proj's channels are repeated into o_proj's input. */
    private static final ModelShape GQA = new ModelShape("gqa", "llama", "LlamaForCausalLM", 64, 16, 24, 1, 4, 2, false, false, 10000.0,
            2048, 1e-5, null);
    private static final String P = "model.layers.0.";

    @TempDir
    Path tmp;

    private final PluginRegistry registry = PluginRegistry.builder().application().build();

    private TransformerModel load(ModelShape shape) {
        return new ModelLoader(registry).load(SyntheticModel.write(tmp.resolve(shape.name()), shape, 3, Long.MAX_VALUE), false);
    }

    private static QuantConfig weightOnly() {
        return QuantConfig.empty().with("nbits_w", 4).with("nbits_a", 32);
    }

    @Test
    void theAnalyzerFindsTheLinearProducersOnlyWhereChannelsPassOneToOne() {
        try (TransformerModel mha = load(MHA); TransformerModel gqa = load(GQA)) {
            QuantPlan plan = ModelAnalyzer.plan(mha, weightOnly());
            assertEquals(new InputGroup(List.of(P + "self_attn.o_proj"), P + "self_attn.v_proj", true), plan.inputGroup(P + "self_attn.o_proj").orElseThrow());
            assertEquals(new InputGroup(List.of(P + "mlp.down_proj"), P + "mlp.up_proj", true), plan.inputGroup(P + "mlp.down_proj").orElseThrow());
            assertEquals(P + "input_layernorm", plan.inputGroup(P + "self_attn.q_proj").orElseThrow().producer());
            InputGroup grouped = ModelAnalyzer.plan(gqa, weightOnly()).inputGroup(P + "self_attn.o_proj").orElseThrow();
            assertFalse(grouped.foldable(), "grouped heads repeat v_proj's channels: " + grouped);
        }
    }

    @Test
    void foldingIntoPlainAndFrozenProducersKeepsWhatTheModelComputes() {
        try (TransformerModel model = load(MHA); NDManager nd = NDManager.newBaseManager()) {
            QuantPlan plan = ModelAnalyzer.plan(model, weightOnly());
            DefaultQuantContext context = new DefaultQuantContext(model, plan, weightOnly().with("smoothq_fold_only", true), registry,
                    ProgressListener.NONE);
            NDArray ids = nd.create(new long[] {1, 5, 9, 13, 17, 21}, new Shape(1, 6));
            float[] before = ((CausalLM) model).logits(ids).toFloatArray();
            Random r = new Random(3);
            context.smooth(List.of(P + "self_attn.q_proj", P + "self_attn.k_proj", P + "self_attn.v_proj"), factors(r, 16));
            context.smooth(List.of(P + "self_attn.o_proj"), factors(r, 16));
            context.smooth(List.of(P + "mlp.down_proj"), factors(r, 24));
            assertClose(before, ((CausalLM) model).logits(ids).toFloatArray(), 1e-5, "float model after folding into norm, v_proj and up_proj");

            QuantSpec spec = QuantSpec.parse("int4-sym-group8");
            LayerWrapper v = context.wrap(P + "self_attn.v_proj", context.quantizer(null, spec), null);
            LayerWrapper up = context.wrap(P + "mlp.up_proj", context.quantizer(null, spec), null);
            v.freeze();
            up.freeze();
            float[] frozen = ((CausalLM) model).logits(ids).toFloatArray();
            byte[] codes = v.frozenWeight().codes().toByteArray();
            float[] scales = v.frozenWeight().scale().toFloatArray();
            float[] s = factors(r, 16);
            context.smooth(List.of(P + "self_attn.o_proj"), s);
            context.smooth(List.of(P + "mlp.down_proj"), factors(r, 24));
            assertClose(frozen, ((CausalLM) model).logits(ids).toFloatArray(), 1e-5, "quantized model after folding into frozen v_proj and up_proj");
            assertArrayEquals(codes, v.frozenWeight().codes().toByteArray(), "the codes are kept");
            float[] divided = v.frozenWeight().scale().toFloatArray();
            int groups = scales.length / 16;
            for (int i = 0; i < scales.length; i++) {
                assertEquals(scales[i] / s[i / groups], divided[i], 1e-7f * scales[i], "row " + i / groups + "'s scales divided by its factor");
            }
        }
    }

    /** Positive factors spread over two orders of magnitude, as AWQ's are. */
    private static float[] factors(Random r, int n) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = (float) Math.exp(r.nextGaussian() * 1.2);
        }
        return s;
    }

    private static void assertClose(float[] expected, float[] actual, double rel, String what) {
        double maxAbs = 0;
        double maxDiff = 0;
        for (int i = 0; i < expected.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(maxDiff <= rel * maxAbs, what + ": max |Δ| " + maxDiff + " over max |logit| " + maxAbs);
    }
}
