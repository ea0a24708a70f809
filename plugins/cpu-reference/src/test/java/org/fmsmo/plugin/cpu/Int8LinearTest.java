package org.fmsmo.plugin.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.quant.QLinear;
import org.fmsmo.core.quant.QuantizerModes;
import org.junit.jupiter.api.Test;

/** The reference backend's integer path against a long-integer reference and against simulation. */
class Int8LinearTest {

    private static final QuantSpec W = QuantSpec.parse("int8-sym-channel");
    private static final QuantSpec A = QuantSpec.parse("int8-sym-token");

    @Test
    void accumulatorsAreExactAndOutputsMatchTheSimulatedLayer() {
        try (NDManager m = NDManager.newBaseManager(); DeployBackend backend = new CpuReferenceProvider().create()) {
            m.getEngine().setRandomSeed(3);
            NDArray weight = m.randomNormal(new Shape(48, 300));
            NDArray bias = m.randomNormal(new Shape(48));
            NDArray x = m.randomNormal(0f, 3f, new Shape(5, 300), ai.djl.ndarray.types.DataType.FLOAT32);
            QuantizedTensor qw = new QuantizerModes.Max().create(W).quantize(weight);

            Int8Linear layer = (Int8Linear) backend.prepare(FrozenLinear.dynamic("l", qw, bias, A));
            float[] xs = x.toFloatArray();
            int[] qx = new int[xs.length];
            float[] sx = new float[5];
            assertEquals(null, layer.quantizeInput(xs, 5, qx, sx)); // symmetric: no zero points
            // The activation codes equal the simulated per-token quantizer's codes.
            QuantizedTensor simX = new QuantizerModes.Max().create(A).quantize(x);
            byte[] simCodes = simX.codes().toByteArray();
            for (int i = 0; i < qx.length; i++) {
                assertEquals(simCodes[i], qx[i], "activation code " + i);
            }
            assertArrayEquals(simX.scale().toFloatArray(), sx, 0f);

            int[] acc = layer.accumulate(qx, null, 5);
            byte[] w = qw.codes().toByteArray();
            for (int t = 0; t < 5; t++) {
                for (int o = 0; o < 48; o++) {
                    long ref = 0;
                    for (int k = 0; k < 300; k++) {
                        ref += (long) qx[t * 300 + k] * w[o * 300 + k];
                    }
                    assertEquals(ref, acc[t * 48 + o], "accumulator [" + t + "][" + o + "]");
                }
            }

            QLinear simulated = new QLinear(new Linear("l", weight, bias), new QuantizerModes.Max().create(W), new QuantizerModes.Max().create(A));
            simulated.freeze();
            float[] expected = simulated.forward(x).toFloatArray();
            float[] actual = layer.forward(x).toFloatArray();
            for (int i = 0; i < expected.length; i++) {
                // Same integers on both sides; only float summation order differs.
                assertEquals(expected[i], actual[i], 2e-5f * Math.max(1f, Math.abs(expected[i])), "output " + i);
            }
        }
    }

    /**
     * PTQ's static asymmetric activations: codes q = clamp(round(x/s) + zp, 0, 255) equal the
     * simulated quantizer's, the accumulators equal Σ (q − zp)·w exactly (zero point folded into a
     * per-row correction), and the outputs equal the simulated layer's to float rounding.
     */
    @Test
    void staticAsymmetricInputsFoldTheZeroPointExactly() {
        asymmetricInputsFoldTheZeroPointExactly(QuantSpec.parse("int8-asym-tensor-minmax"));
    }

    /**
     * Dynamic per-token asymmetric activations ({@code minmax} on TOKEN): each token gets its own
     * scale and zero point from its range, as the simulated quantizer computes them, and its own
     * correction.
     */
    @Test
    void perTokenAsymmetricInputsFoldEachTokensZeroPoint() {
        asymmetricInputsFoldTheZeroPointExactly(QuantSpec.parse("int8-asym-token"));
    }

    private static void asymmetricInputsFoldTheZeroPointExactly(QuantSpec asym) {
        try (NDManager m = NDManager.newBaseManager(); DeployBackend backend = new CpuReferenceProvider().create()) {
            m.getEngine().setRandomSeed(5);
            NDArray weight = m.randomNormal(new Shape(40, 200));
            // tokens with different offsets, so that their zero points differ
            NDArray x = m.randomNormal(0f, 2f, new Shape(6, 200), ai.djl.ndarray.types.DataType.FLOAT32)
                    .add(m.create(new float[] {0.7f, -3f, 5f, 0f, 1.5f, -0.2f}, new Shape(6, 1)));
            boolean perToken = asym.granularity() == org.fmsmo.api.quant.Granularity.TOKEN;
            org.fmsmo.api.quant.Quantizer iq = new QuantizerModes.MinMax().create(asym);
            QuantizedTensor qw = new QuantizerModes.Max().create(W).quantize(weight);
            FrozenLinear frozen;
            if (perToken) {
                frozen = FrozenLinear.dynamic("l", qw, null, asym);
            } else {
                iq.observe(x);
                iq.endCalibration();
                QuantizedTensor probe = iq.quantize(m.zeros(new Shape(1, 1)));
                frozen = new FrozenLinear("l", qw, null, asym, probe.scale(), probe.zeroPoint().orElseThrow());
            }
            Int8Linear layer = (Int8Linear) backend.prepare(frozen);
            float[] xs = x.toFloatArray();
            int[] qx = new int[xs.length];
            float[] sx = new float[6];
            int[] zx = layer.quantizeInput(xs, 6, qx, sx);
            QuantizedTensor simX = iq.quantize(x);
            byte[] simCodes = simX.codes().toByteArray();
            for (int i = 0; i < qx.length; i++) {
                assertEquals(simCodes[i] & 0xFF, qx[i], "activation code " + i);
            }
            int[] simZp = simX.zeroPoint().orElseThrow().toIntArray();
            float[] simScale = simX.scale().toFloatArray();
            for (int t = 0; t < 6; t++) {
                assertEquals(simZp[perToken ? t : 0], zx[t], "zero point of token " + t);
                assertEquals(simScale[perToken ? t : 0], sx[t], 0f, "scale of token " + t);
            }
            if (perToken) {
                assertTrue(java.util.Arrays.stream(zx).distinct().count() > 3, "zero points differ per token: " + java.util.Arrays.toString(zx));
            }
            int[] acc = layer.accumulate(qx, zx, 6);
            byte[] w = qw.codes().toByteArray();
            for (int t = 0; t < 6; t++) {
                for (int o = 0; o < 40; o++) {
                    long ref = 0;
                    for (int k = 0; k < 200; k++) {
                        ref += (long) (qx[t * 200 + k] - zx[t]) * w[o * 200 + k];
                    }
                    assertEquals(ref, acc[t * 40 + o], "accumulator [" + t + "][" + o + "]");
                }
            }
            QLinear simulated = new QLinear(new Linear("l", weight, null), new QuantizerModes.Max().create(W), iq);
            simulated.freeze();
            float[] expected = simulated.forward(x).toFloatArray();
            float[] actual = layer.forward(x).toFloatArray();
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 2e-5f * Math.max(1f, Math.abs(expected[i])), "output " + i);
            }
        }
    }

    @Test
    void unsupportedSpecsAreRefusedWithTheSchemesOffered() {
        try (NDManager m = NDManager.newBaseManager(); DeployBackend backend = new CpuReferenceProvider().create()) {
            QuantizedTensor asym = new QuantizerModes.MinMax().create(QuantSpec.parse("int8-asym-channel")).quantize(m.ones(new Shape(2, 2)));
            FmsmoException e = assertThrows(FmsmoException.class, () -> backend.prepare(FrozenLinear.dynamic("x", asym, null, A)));
            assertEquals(ErrorCode.UNSUPPORTED_SPEC, e.code());
            assertTrue(e.getMessage().contains("W8A8-int") && e.getMessage().contains("layer x"), e.getMessage());
            // The same weight runs weight-only.
            try (PreparedLinear p = backend.prepare(FrozenLinear.dynamic("x", asym, null, null))) {
                assertArrayEquals(new float[] {2f, 2f}, p.forward(m.ones(new Shape(1, 2))).toFloatArray(), 1e-6f);
            }
        }
    }
}
