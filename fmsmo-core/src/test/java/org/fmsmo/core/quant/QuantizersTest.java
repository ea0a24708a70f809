package org.fmsmo.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Fp8Format;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The built-in modes against codes and scales worked out by hand from QUANTIZERS.md. */
class QuantizersTest {

    private static NDManager m;

    @BeforeAll
    static void open() {
        m = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        m.close();
    }

    private static Quantizer q(String mode, String spec) {
        QuantizerModes.Base p = switch (mode) {
            case "max" -> new QuantizerModes.Max();
            case "minmax" -> new QuantizerModes.MinMax();
            default -> new QuantizerModes.Fp8E4m3Scale();
        };
        return p.create(QuantSpec.parse(spec));
    }

    @Test
    void symmetricInt4PerChannel() {
        // max uses the zero-aligned grid (n = 14): q = round((x/α + 1)/2 · 14) − 7, s = 2α/14.
        // Row 0: α 1.4 → z = 12, 4.5, 8, 14 → 12, 4 (half to even), 8, 14 → 5, −3, 1, 7.
        // Row 1: α 7 → z = 0, 7.5, 10.5, 9 → 0, 8, 10, 9 → −7, 1, 3, 2 (rint(x/s) would give 0 and 4).
        NDArray x = m.create(new float[] {1.0f, -0.5f, 0.2f, 1.4f, -7f, 0.5f, 3.5f, 2f}, new Shape(2, 4));
        QuantizedTensor t = q("max", "int4-sym-channel").quantize(x);
        assertArrayEquals(new byte[] {5, -3, 1, 7, -7, 1, 3, 2}, t.codes().toByteArray());
        assertArrayEquals(new float[] {1.4f / 7, 1f}, t.scale().toFloatArray(), 0f);
        assertEquals(new Shape(2, 1), t.scale().getShape());
        NDArray fake = q("max", "int4-sym-channel").fakeQuantize(x);
        assertArrayEquals(t.dequantize().toFloatArray(), fake.toFloatArray(), 0f, "simulation equals the frozen codes bit for bit");
    }

    @Test
    void asymmetricInt8PerTensorIncludesZero() {
        // min 0.5 → range [0, 2.55]: s = 0.01, zp = 0; 1.234/0.01 = 123.4 → 123.
        NDArray x = m.create(new float[] {0.5f, 2.55f, 1.234f, 1f});
        QuantizedTensor t = q("minmax", "int8-asym").quantize(x);
        assertEquals(2.55f / 255, t.scale().getFloat(0), 0f);
        assertEquals(0, t.zeroPoint().orElseThrow().getInt(0));
        byte[] codes = t.codes().toByteArray();
        assertEquals(50, codes[0] & 0xFF);
        assertEquals(255, codes[1] & 0xFF);
        assertEquals(123, codes[2] & 0xFF);
        // A negative range: [−1, 3] → s = 4/255, zp = round(255/4) = 64 (63.75 → 64).
        QuantizedTensor n = q("minmax", "int8-asym").quantize(m.create(new float[] {-1f, 3f, 0f}));
        assertEquals(64, n.zeroPoint().orElseThrow().getInt(0));
        assertEquals(64, n.codes().toByteArray()[2] & 0xFF, "zero is exactly representable");
        assertEquals(0f, n.dequantize().getFloat(2), 0f);
    }

    @Test
    void groupsWithARaggedLastGroup() {
        // 1 row, 5 columns, groups of 2: {2, −1}, {0.5, 0.25}, {−4}.
        NDArray x = m.create(new float[] {2f, -1f, 0.5f, 0.25f, -4f}, new Shape(1, 5));
        QuantizedTensor t = q("max", "int8-sym-group2").quantize(x);
        assertEquals(new Shape(1, 3), t.scale().getShape());
        assertArrayEquals(new float[] {2f / 127, 0.5f / 127, 4f / 127}, t.scale().toFloatArray(), 0f);
        // Zero-aligned grid, n = 254: −1/2 → z = 63.5 → 64 → −63; 0.25/0.5 → z = 190.5 → 190 → 63.
        assertArrayEquals(new byte[] {127, -63, 127, 63, -127}, t.codes().toByteArray());
    }

    /** A group wider than the row is one group per row, as per channel, without allocating the group's width. */
    @Test
    void aGroupWiderThanTheRowIsPerChannel() {
        NDArray x = m.create(new float[] {2f, -1f, 0.5f, 0.25f, -4f, 1f, 3f, -0.5f}, new Shape(2, 4));
        QuantizedTensor wide = q("minmax", "int4-asym-group1000000000").quantize(x);
        QuantizedTensor channel = q("minmax", "int4-asym-channel").quantize(x);
        assertEquals(new Shape(2, 1), wide.scale().getShape());
        assertArrayEquals(channel.scale().toFloatArray(), wide.scale().toFloatArray(), 0f);
        assertArrayEquals(channel.codes().toByteArray(), wide.codes().toByteArray());
        assertArrayEquals(channel.dequantize().toFloatArray(), wide.dequantize().toFloatArray(), 0f);
    }

    @Test
    void fp8PerTensorScaleUsesTheFormatCodec() {
        NDArray x = m.create(new float[] {0.1f, -3f, 1.7f, 0f});
        QuantizedTensor t = q("fp8", "fp8_e4m3").quantize(x);
        float s = 3f / 448f;
        assertEquals(s, t.scale().getFloat(0), 0f);
        byte[] codes = t.codes().toByteArray();
        float[] xs = {0.1f, -3f, 1.7f, 0f};
        for (int i = 0; i < 4; i++) {
            assertEquals(Fp8Format.E4M3.encode(xs[i] / s, true), codes[i], "element " + i);
        }
        assertEquals(Fp8Format.E4M3.decode(codes[2]) * s, t.dequantize().getFloat(2), 0f);
    }

    /** A calibrated per-tensor FP8 scale (compressed-tensors' static input_scale) is amax/448 of what was observed, and saturates beyond. */
    @Test
    void fp8StaticScaleComesFromCalibrationAndSaturates() {
        Quantizer q = q("fp8", "fp8_e4m3-tensor-minmax");
        q.observe(m.create(new float[] {0.5f, -2f}));
        q.observe(m.create(new float[] {4f, 1f}));
        q.endCalibration();
        assertArrayEquals(new float[] {4f}, q.state().get("amax"), 0f);
        QuantizedTensor t = q.quantize(m.create(new float[] {1f, 9f, -0.001f}));
        float s = 4f / 448f;
        assertEquals(s, t.scale().getFloat(0), 0f, "the stored scale, not this tensor's amax (9)");
        assertEquals(4f, t.dequantize().getFloat(1), 0f, "9 saturates at amax");
        assertEquals(Fp8Format.E4M3.decode(Fp8Format.E4M3.encode(1f / s, true)) * s, t.dequantize().getFloat(0), 0f);
        Quantizer reloaded = q("fp8", "fp8_e4m3-tensor-minmax");
        reloaded.loadState(q.state());
        assertEquals(s, reloaded.quantize(m.create(new float[] {0.1f})).scale().getFloat(0), 0f);
        assertThrows(FmsmoException.class, () -> reloaded.loadState(Map.of("clip_val", new float[] {1f})));
        assertThrows(FmsmoException.class, () -> q("fp8", "fp8_e4m3-token").loadState(Map.of("amax", new float[] {1f})),
                "per-token scales are dynamic: no state");
    }

    @Test
    void perTokenKeepsTheInputShapeAndAllZeroRowsStayZero() {
        NDArray x = m.create(new float[] {0f, 0f, 0f, 1f, -2f, 0.5f}, new Shape(1, 2, 3));
        NDArray y = q("max", "int8-token").fakeQuantize(x);
        assertEquals(x.getShape(), y.getShape());
        float[] v = y.toFloatArray();
        assertArrayEquals(new float[] {0f, 0f, 0f}, new float[] {v[0], v[1], v[2]}, 0f);
        assertEquals(-2f, v[4], 0f);
    }

    @Test
    void unsupportedSpecsAreRefusedWithWhatTheModeTakes() {
        FmsmoException e = assertThrows(FmsmoException.class, () -> new QuantizerModes.Max().create(QuantSpec.parse("int8-asym")));
        assertEquals(ErrorCode.UNSUPPORTED_SPEC, e.code());
        assertTrue(e.getMessage().contains("'max'") && e.getMessage().contains("int8-asym"), e.getMessage());
    }
}
