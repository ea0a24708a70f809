package org.fmsmo.plugin.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.nn.Linear;
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

    /**
     * A narrowed FP32 accumulator on a real layer: rounding away t mantissa bits per chunk moves
     * each chunk's sum by at most 2^−(24−t) of itself, so with t = 1 the output stays within float
     * rounding of the exact path, and with t = 16 (8 significant bits) it deviates measurably but
     * by less than 2^−7 of the largest output.
     */
    @Test
    void narrowedAccumulatorStaysWithinItsRoundingBound() {
        QuantSpec w = QuantSpec.parse("fp8_e4m3-channel");
        QuantSpec a = QuantSpec.parse("fp8_e4m3-token");
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(3);
            NDArray weight = m.randomNormal(new Shape(40, 512));
            NDArray x = m.randomNormal(new Shape(9, 512));
            FrozenLinear frozen = FrozenLinear.dynamic("l", QuantizerModes.create("fp8_e4m3_scale_perCh", w).quantize(weight), null, a);
            float[] exact;
            try (DeployBackend backend = new CpuReferenceProvider().create(); var layer = backend.prepare(frozen)) {
                exact = layer.forward(x).toFloatArray();
            }
            float max = 0f;
            for (float v : exact) {
                max = Math.max(max, Math.abs(v));
            }
            for (int t : new int[] {1, 16}) {
                try (DeployBackend backend = new CpuReferenceProvider().create(Map.of("truncate_lsb", "" + t, "chunk_size", "64"));
                     var layer = backend.prepare(frozen)) {
                    float[] y = layer.forward(x).toFloatArray();
                    float worst = 0f;
                    for (int i = 0; i < y.length; i++) {
                        worst = Math.max(worst, Math.abs(y[i] - exact[i]));
                    }
                    if (t == 1) {
                        assertTrue(worst <= 1e-5f * max, "t=1 deviates by " + worst / max);
                    } else {
                        assertTrue(worst > 1e-6f * max && worst < max / 128, "t=16 deviates by " + worst / max);
                    }
                }
            }
        }
    }
}
