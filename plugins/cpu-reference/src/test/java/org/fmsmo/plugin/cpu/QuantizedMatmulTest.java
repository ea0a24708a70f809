package org.fmsmo.plugin.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenMatmul;
import org.fmsmo.api.deploy.PreparedMatmul;
import org.fmsmo.api.quant.Fp8Format;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.deploy.Deployment;
import org.fmsmo.core.nn.Bmm;
import org.fmsmo.core.quant.QBmm;
import org.fmsmo.core.quant.QuantizerModes;
import org.junit.jupiter.api.Test;

/**
 * Attention matmuls on the CPU backend: the integer product against sums of explicitly computed
 * codes in {@code long} (so the int32 accumulation and the zero-point algebra are checked, not
 * assumed), and every kind (INT, FP8, a KV cache) against the simulated {@link QBmm} it replaces.
 */
class QuantizedMatmulTest {

    private static final Shape A = new Shape(2, 3, 5, 40);
    private static final Shape B = new Shape(2, 3, 40, 6);

    /** A calibrated QBmm over {@code a·b} with the given modes (first null: a KV cache). */
    private static QBmm calibrated(String firstMode, String secondMode, int bits, NDArray a, NDArray b) {
        Quantizer first = firstMode == null ? null : QuantizerModes.create(firstMode, QuantizerModes.specFor(firstMode, bits, 0, RangeSource.MINMAX));
        Quantizer second = QuantizerModes.create(secondMode, QuantizerModes.specFor(secondMode, bits, 0, RangeSource.MINMAX));
        QBmm q = new QBmm(Bmm.plain("layers.0.self_attn.bmm1"), first, second);
        q.setCalibrating(true);
        q.apply(a, b).close();
        q.setCalibrating(false);
        q.endCalibration();
        return q;
    }

    @Test
    void integerProductEqualsTheSumsOfTheCodes() {
        try (NDManager m = NDManager.newBaseManager(); DeployBackend backend = new CpuReferenceProvider().create()) {
            m.getEngine().setRandomSeed(5);
            NDArray a = m.randomNormal(0f, 2f, A, DataType.FLOAT32);
            NDArray b = m.randomNormal(0f, 1f, B, DataType.FLOAT32).add(0.3f); // off-centre: a zero point ≠ 128
            for (String[] modes : new String[][] {{"maxsym", "maxsym"}, {"minmax", "minmax"}, {"maxsym", "minmax"}}) {
                for (int bits : new int[] {8, 4}) {
                    FrozenMatmul frozen = Deployment.frozen(calibrated(modes[0], modes[1], bits, a, b), m);
                    assertTrue(backend.runs(frozen), frozen.toString());
                    float[] actual;
                    try (PreparedMatmul p = backend.prepare(frozen)) {
                        NDArray y = p.forward(a, b);
                        assertEquals(new Shape(2, 3, 5, 6), y.getShape());
                        actual = y.toFloatArray();
                    }
                    float[] expected = codeSums(a.toFloatArray(), frozen.first(), b.toFloatArray(), frozen.second(), 6, 5, 40, 6);
                    for (int i = 0; i < expected.length; i++) {
                        assertEquals(expected[i], actual[i], 1e-6f * Math.abs(expected[i]) + 1e-30f, modes[0] + "×" + modes[1] + " " + bits + " bits, output " + i);
                    }
                }
            }
        }
    }

    /** {@code Σ_k (qa − za)(qb − zb)} in long from codes {@code clamp(rint(x/s) + zp)}, times {@code s_a·s_b}. */
    private static float[] codeSums(float[] a, FrozenMatmul.Operand oa, float[] b, FrozenMatmul.Operand ob, int n, int t, int k, int s) {
        long[] qa = codes(a, oa);
        long[] qb = codes(b, ob);
        float scale = oa.scale().toFloatArray()[0] * ob.scale().toFloatArray()[0];
        float[] y = new float[n * t * s];
        for (int slice = 0; slice < n; slice++) {
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < s; j++) {
                    long sum = 0;
                    for (int kk = 0; kk < k; kk++) {
                        sum += qa[slice * t * k + i * k + kk] * qb[slice * k * s + kk * s + j];
                    }
                    y[slice * t * s + i * s + j] = (float) sum * scale;
                }
            }
        }
        return y;
    }

    private static long[] codes(float[] x, FrozenMatmul.Operand o) {
        QuantSpec spec = o.spec();
        float s = o.scale().toFloatArray()[0];
        long zp = o.zeroPoint() == null ? 0 : o.zeroPoint().toIntArray()[0];
        long lo = spec.symmetric() ? -((1 << (spec.bits() - 1)) - 1) : 0;
        long hi = spec.symmetric() ? (1 << (spec.bits() - 1)) - 1 : (1 << spec.bits()) - 1;
        long[] q = new long[x.length];
        for (int i = 0; i < x.length; i++) {
            q[i] = Math.max(lo, Math.min(hi, (long) Math.rint(x[i] / s) + zp)) - zp;
        }
        return q;
    }

    /**
     * The simulated {@code maxsym} quantizer uses fms-mo's zero-aligned grid, computed as
     * {@code round((x/α + 1)/2 · 254) − 127}: a value within float rounding (~1e-5 of a step) of a
     * code boundary can land one code away from the backend's {@code round(x/s)}. So the operands
     * here sit at least 0.2 of a step from every boundary ({@code (k + u)·step}, |u| ≤ 0.3, with the
     * largest value exactly {@code 127·step}); the other modes compute {@code round(x/s)} as the
     * backend does and would agree on any data.
     */
    @Test
    void everyKindMatchesTheSimulatedMatmul() {
        try (NDManager m = NDManager.newBaseManager(); DeployBackend backend = new CpuReferenceProvider().create()) {
            NDArray a = m.create(onGrid(A, 0.05f, 11), A);
            NDArray b = m.create(onGrid(B, 0.02f, 12), B);
            for (String[] modes : new String[][] {{"maxsym", "maxsym"}, {"minmax", "minmax"}, {"fp8_e4m3_scale", "fp8_e4m3_scale"},
                    {null, "fp8_e4m3_scale"}, {null, "maxsym"}}) {
                QBmm q = calibrated(modes[0], modes[1], 8, a, b);
                FrozenMatmul frozen = Deployment.frozen(q, m);
                assertEquals(modes[0] == null, frozen.isKvCache());
                float[] expected = q.apply(a, b).toFloatArray();
                float[] actual;
                try (PreparedMatmul p = backend.prepare(frozen)) {
                    actual = p.forward(a, b).toFloatArray();
                }
                float max = 0f;
                for (float v : expected) {
                    max = Math.max(max, Math.abs(v));
                }
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], actual[i], 2e-6f * max, modes[0] + " × " + modes[1] + ", output " + i);
                }
            }
        }
    }

    /** Values {@code (k + u)·step}, k uniform in ±120, |u| ≤ 0.3, the first one {@code 127·step}. */
    private static float[] onGrid(Shape shape, float step, long seed) {
        java.util.Random r = new java.util.Random(seed);
        float[] v = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (r.nextInt(241) - 120 + (r.nextFloat() - 0.5f) * 0.6f) * step;
        }
        v[0] = 127 * step;
        return v;
    }

    /** The KV cache holds e4m3 codes: a key that is an exact e4m3 value times the scale comes back exactly. */
    @Test
    void aKvCacheHoldsFp8Codes() {
        try (NDManager m = NDManager.newBaseManager(); DeployBackend backend = new CpuReferenceProvider().create()) {
            NDArray a = m.create(new float[] {1f, 0f, 0f, 1f}, new Shape(1, 1, 2, 2));
            NDArray b = m.create(new float[] {448f, -0.1f, 3.3f, 1f}, new Shape(1, 1, 2, 2));
            FrozenMatmul frozen = Deployment.frozen(calibrated(null, "fp8_e4m3_scale", 8, a, b), m);
            assertEquals(1f, frozen.second().scale().toFloatArray()[0], 0f, "amax 448 gives scale 1");
            try (PreparedMatmul p = backend.prepare(frozen)) {
                Fp8Format e4m3 = Fp8Format.E4M3;
                float[] expected = {448f, e4m3.round(-0.1f, true), e4m3.round(3.3f, true), 1f};
                assertArrayEquals(expected, p.forward(a, b).toFloatArray(), 0f);
            }
        }
    }

    @Test
    void mixedIntegerAndFp8OperandsAreNotRun() {
        try (NDManager m = NDManager.newBaseManager(); DeployBackend backend = new CpuReferenceProvider().create()) {
            NDArray one = m.ones(new Shape(1, 1));
            FrozenMatmul mixed = new FrozenMatmul("bmm1", new FrozenMatmul.Operand(QuantSpec.parse("int8-sym-tensor"), one, null),
                    new FrozenMatmul.Operand(QuantSpec.parse("fp8_e4m3-tensor"), one, null));
            assertFalse(backend.runs(mixed));
            FmsmoException e = assertThrows(FmsmoException.class, () -> backend.prepare(mixed));
            assertEquals(ErrorCode.UNSUPPORTED_SPEC, e.code());
            assertTrue(e.getMessage().contains("bmm1"), e.getMessage());
        }
    }
}
