package org.fmsmo.plugin.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.model.Linear;
import org.fmsmo.core.quant.QLinear;
import org.fmsmo.core.quant.QuantizerModes;
import org.junit.jupiter.api.Test;

/**
 * FP8 e4m3 W8A8 on the CPU backend against the simulated layer: the input's e4m3 codes are the
 * simulated quantizer's (per token, and static per tensor), and the outputs agree to FP32
 * summation order.
 */
class Fp8LinearTest {

    @Test
    void perTokenAndStaticInputsMatchTheSimulatedLayer() {
        QuantSpec w = QuantSpec.parse("fp8_e4m3-channel");
        try (NDManager m = NDManager.newBaseManager(); DeployBackend backend = new CpuReferenceProvider().create()) {
            m.getEngine().setRandomSeed(9);
            NDArray weight = m.randomNormal(new Shape(24, 160));
            NDArray bias = m.randomNormal(new Shape(24));
            NDArray x = m.randomNormal(0f, 4f, new Shape(7, 160), ai.djl.ndarray.types.DataType.FLOAT32);
            for (boolean perToken : new boolean[] {true, false}) {
                QuantSpec a = QuantSpec.parse(perToken ? "fp8_e4m3-token" : "fp8_e4m3-tensor-minmax");
                Quantizer iq = QuantizerModes.create(perToken ? "fp8_e4m3_scale_perToken" : "fp8_e4m3_scale", a);
                if (!perToken) {
                    iq.observe(x);
                    iq.endCalibration();
                }
                Quantizer wq = QuantizerModes.create("fp8_e4m3_scale_perCh", w);
                QuantizedTensor qw = wq.quantize(weight);
                FrozenLinear frozen = perToken ? FrozenLinear.dynamic("l", qw, bias, a)
                        : new FrozenLinear("l", qw, bias, a, iq.quantize(m.zeros(new Shape(1, 1))).scale(), null);
                try (Fp8Linear layer = (Fp8Linear) backend.prepare(frozen)) {
                    QLinear simulated = new QLinear(new Linear("l", weight, bias), QuantizerModes.create("fp8_e4m3_scale_perCh", w), iq);
                    simulated.freeze();
                    float[] expected = simulated.forward(x).toFloatArray();
                    float[] actual = layer.forward(x).toFloatArray();
                    for (int i = 0; i < expected.length; i++) {
                        assertEquals(expected[i], actual[i], 2e-5f * Math.max(1f, Math.abs(expected[i])), (perToken ? "per token" : "static") + " output " + i);
                    }
                }
            }
        }
    }
}
