package org.fmsmo.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Map;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.core.nn.Linear;
import org.junit.jupiter.api.Test;

/**
 * One QAT step's gradients through a quantized linear layer, against values derived by hand.
 *
 * <p>Layer: W = [[1, 1, 1], [1, 1, −1]] under an 8-bit per-tensor {@code max} weight quantizer
 * (α_w = 1: the grid −1 + k/127 holds ±1 exactly, so Ŵ = W), input x = [0.5, 3, −1] under a 2-bit
 * {@code pact} quantizer with α = 2 (s = 2/3): clamp → [0.5, 2, 0], x/s = [0.75, 3, 0] → codes
 * [1, 3, 0] → x̂ = [2/3, 2, 0]. Loss L = Σ y = Σ_o Σ_j x̂_j Ŵ_oj.
 * <ul>
 *   <li>∂L/∂α = Σ_o Ŵ_o1 over the one clipped input (x_1 = 3 ≥ α; PACT: ∂x̂/∂α = 1 there) = 1 + 1 = 2;</li>
 *   <li>∂L/∂W_oj = x̂_j (straight through the weight quantizer): [2/3, 2, 0] for both rows;</li>
 *   <li>∂L/∂x_j = Σ_o Ŵ_oj inside (0, α), 0 where clipped: [2, 0, 0] (x_2 = −1 is below 0).</li>
 * </ul>
 */
class QLinearGradientTest {

    @Test
    void pactClipAndWeightGradientsMatchTheHandDerivation() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = m.create(new float[] {1, 1, 1, 1, 1, -1}, new Shape(2, 3));
            Quantizer wq = QuantizerModes.create("max", QuantizerModes.specFor("max", 8, 0, RangeSource.MINMAX));
            Quantizer aq = QuantizerModes.create("pact", QuantizerModes.specFor("pact", 2, 0, RangeSource.MINMAX));
            aq.loadState(Map.of("clip_val", new float[] {2f}));
            QLinear layer = new QLinear(new Linear("fc", w, null), wq, aq);
            wq.setTraining(true);
            aq.setTraining(true);
            NDArray x = m.create(new float[] {0.5f, 3f, -1f}, new Shape(1, 3));
            w.setRequiresGradient(true);
            x.setRequiresGradient(true);
            NDArray alpha = aq.parameters().get("clip_val");
            try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
                NDArray y = layer.forward(x);
                assertArrayEquals(new float[] {8f / 3, 2f / 3 + 2}, y.toFloatArray(), 1e-6f, "y = x̂ Ŵᵀ");
                c.backward(y.sum());
            }
            assertArrayEquals(new float[] {2f}, alpha.getGradient().toFloatArray(), 1e-6f, "∂L/∂α");
            assertArrayEquals(new float[] {2f / 3, 2, 0, 2f / 3, 2, 0}, w.getGradient().toFloatArray(), 1e-6f, "∂L/∂W");
            assertArrayEquals(new float[] {2, 0, 0}, x.getGradient().toFloatArray(), 1e-6f, "∂L/∂x");
        }
    }
}
