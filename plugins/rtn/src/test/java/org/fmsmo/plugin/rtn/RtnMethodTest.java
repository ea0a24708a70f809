package org.fmsmo.plugin.rtn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.core.context.DefaultQuantContext;
import org.fmsmo.core.model.LayerTable;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.plugin.PluginRegistry;
import org.junit.jupiter.api.Test;

/** RTN inside a real host, checked element by element against the grid formulas computed here. */
class RtnMethodTest {

    private static QuantReport run(LayerTable model, QuantPlan plan, ProgressListener progress) {
        try (PluginRegistry registry = PluginRegistry.builder().application().build()) {
            return registry.get(QuantMethodProvider.class, "rtn").create()
                    .quantize(new DefaultQuantContext(model, plan, QuantConfig.empty(), registry, progress));
        }
    }

    @Test
    void int4GroupRtnMatchesTheFormulaAndReportsTheError() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(1);
            Linear up = new Linear("mlp.up", m.randomNormal(new Shape(8, 20)), m.randomNormal(new Shape(8)));
            Linear head = new Linear("lm_head", m.randomNormal(new Shape(3, 8)), null);
            LayerTable model = new LayerTable("Test", m, List.of(up, head));
            QuantSpec spec = QuantSpec.parse("int4-sym-group8");
            QuantPlan plan = new QuantPlan(List.of(new LayerDecision("mlp.up", "linear", true, "test", spec, null),
                    new LayerDecision("lm_head", "linear", false, "test", null, null)));

            QuantReport report = run(model, plan, ProgressListener.NONE);

            assertSame(head, model.linear("lm_head"), "skipped layers are untouched");
            LayerWrapper w = (LayerWrapper) model.linear("mlp.up");
            assertTrue(w.isFrozen());
            QuantizedTensor q = w.frozenWeight();
            float[] x = up.weight().toFloatArray();
            byte[] codes = q.codes().toByteArray();
            float[] scales = q.scale().toFloatArray();
            double errSq = 0;
            double normSq = 0;
            for (int r = 0; r < 8; r++) {
                for (int g = 0; g < 3; g++) { // groups of 8, 8 and a ragged 4
                    float amax = 0;
                    for (int c = g * 8; c < Math.min(20, g * 8 + 8); c++) {
                        amax = Math.max(amax, Math.abs(x[r * 20 + c]));
                    }
                    float s = amax / 7;
                    assertEquals(s, scales[r * 3 + g], 0f);
                    for (int c = g * 8; c < Math.min(20, g * 8 + 8); c++) {
                        float v = x[r * 20 + c];
                        int code = (int) Math.max(-7, Math.min(7, Math.rint(v / s)));
                        assertEquals(code, codes[r * 20 + c], "row " + r + " col " + c);
                        errSq += Math.pow(v - code * s, 2);
                        normSq += (double) v * v;
                    }
                }
            }
            assertEquals(1, report.layers().size());
            assertEquals(Math.sqrt(errSq / normSq), report.layers().getFirst().metrics().get("weight_rel_error"), 1e-6);

            // The frozen layer computes with the dequantized weight.
            var in = m.randomNormal(new Shape(2, 20));
            float[] expected = in.matMul(q.dequantize().transpose()).add(up.bias().orElseThrow()).toFloatArray();
            assertEquals(0f, maxDiff(expected, w.forward(in).toFloatArray()), 1e-6f);
        }
    }

    @Test
    void cancellationStopsBeforeTheNextLayer() {
        try (NDManager m = NDManager.newBaseManager()) {
            LayerTable model = new LayerTable("Test", m, List.of(new Linear("a", m.ones(new Shape(2, 2)), null)));
            QuantPlan plan = new QuantPlan(List.of(new LayerDecision("a", "linear", true, "test", QuantSpec.intSymmetric(8), null)));
            ProgressListener cancelled = new ProgressListener() {
                @Override
                public void begin(String task, long total, String unit) {
                }

                @Override
                public void advance(long done) {
                }

                @Override
                public void end() {
                }

                @Override
                public boolean isCancelled() {
                    return true;
                }
            };
            assertThrows(CancellationException.class, () -> run(model, plan, cancelled));
            LinearLayer a = model.linear("a");
            assertFalse(a instanceof LayerWrapper, "nothing was changed");
        }
    }

    private static float maxDiff(float[] a, float[] b) {
        float d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
