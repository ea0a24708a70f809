package org.fmsmo.plugin.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The block layouts against cases worked by hand from llama.cpp's reference quantizers. */
class GgmlTypeTest {

    private static ByteBuffer encode(GgmlType t, float[] x) {
        ByteBuffer b = GgmlType.little((int) t.bytes(x.length));
        t.quantize(x, b);
        assertEquals(0, b.remaining(), "a whole number of blocks");
        return b.flip();
    }

    @Test
    void q8_0RoundsHalvesAwayFromZeroLikeC() {
        float[] x = new float[32];
        x[0] = -127; // amax 127: d = 1, so each code is roundf(x)
        x[1] = 0.5f;
        x[2] = -0.5f;
        x[3] = 2.5f;
        x[4] = -2.5f;
        x[5] = 126.4f;
        ByteBuffer b = encode(GgmlType.Q8_0, x);
        assertEquals(0x3C00, b.getShort() & 0xFFFF, "d = 1.0 in fp16");
        byte[] q = new byte[32];
        b.get(q);
        assertArrayEquals(new byte[] {-127, 1, -1, 3, -3, 126}, java.util.Arrays.copyOf(q, 6));
        float[] y = new float[32];
        GgmlType.Q8_0.dequantize(encode(GgmlType.Q8_0, x), y);
        assertEquals(3f, y[3]);
        assertEquals(-127f, y[0]);
    }

    @Test
    void q4_0TakesItsScaleFromTheSignedExtremeAndPacksJWithJPlus16() {
        float[] x = new float[32];
        x[0] = -8; // the extreme is negative: d = −8 / −8 = 1, and it maps to code 0
        x[1] = 7;
        x[2] = 7.9f; // 15.9 + 0.5 truncates to 16, clamped to 15
        x[16] = 0.5f; // (int)(0.5 + 8.5) = 9
        x[17] = -0.6f; // (int)(7.9) = 7
        ByteBuffer b = encode(GgmlType.Q4_0, x);
        assertEquals(0x3C00, b.getShort() & 0xFFFF);
        assertEquals(0 | (9 << 4), b.get() & 0xFF, "byte 0: element 0 low, element 16 high");
        assertEquals(15 | (7 << 4), b.get() & 0xFF, "byte 1: element 1 low, element 17 high");
        assertEquals(15 | (8 << 4), b.get() & 0xFF);
        float[] y = new float[32];
        GgmlType.Q4_0.dequantize(encode(GgmlType.Q4_0, x), y);
        assertEquals(-8f, y[0]);
        assertEquals(7f, y[2]);
        assertEquals(1f, y[16]);
        assertEquals(-1f, y[17]);
    }

    @Test
    void q4_kPacksSixBitScalesAndStaysWithinItsSteps() {
        Random r = new Random(11);
        float[] x = new float[512];
        for (int i = 0; i < x.length; i++) {
            int sub = i / 32;
            x[i] = (float) (r.nextGaussian() * (0.05 + sub % 8) + (sub % 3 == 0 ? 0.3 : 0)); // sub-block ranges 1:160 need all 6 bits
        }
        ByteBuffer b = encode(GgmlType.Q4_K, x);
        assertEquals(2 * 144, b.remaining());
        float[] y = new float[x.length];
        GgmlType.Q4_K.dequantize(b.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN), y);
        boolean wideScale = false;
        for (int blk = 0; blk < 2; blk++) {
            ByteBuffer h = b.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).position(blk * 144);
            float d = Float.float16ToFloat(h.getShort());
            float dmin = Float.float16ToFloat(h.getShort());
            byte[] s = new byte[12];
            h.get(s);
            for (int j = 0; j < 8; j++) {
                int sc = Q4K.scale(j, s);
                wideScale |= sc > 15;
                float step = d * sc;
                for (int i = 0; i < 32; i++) {
                    int k = blk * 256 + j * 32 + i;
                    float lo = -dmin * Q4K.min(j, s);
                    float clamped = Math.clamp(x[k], lo, lo + 15 * step);
                    assertTrue(Math.abs(y[k] - clamped) <= step / 2 + 1e-6f, "element " + k + ": " + y[k] + " for " + x[k]);
                }
            }
        }
        assertTrue(wideScale, "some sub-block scale used its top two bits");
        double err = 0;
        double norm = 0;
        for (int i = 0; i < x.length; i++) {
            err += (y[i] - x[i]) * (y[i] - x[i]);
            norm += x[i] * x[i];
        }
        assertTrue(Math.sqrt(err / norm) < 0.12, "relative error " + Math.sqrt(err / norm));
    }

    @Test
    void f16RoundsToNearestEven() {
        float[] x = {1 + 0x1p-11f, 1 + 3 * 0x1p-11f, 65504f};
        float[] y = new float[3];
        GgmlType.F16.dequantize(encode(GgmlType.F16, x), y);
        assertArrayEquals(new float[] {1f, 1 + 0x1p-9f, 65504f}, y);
    }

    @Test
    void qkRowsInterleaveEachHeadsHalvesAndComeBack() {
        // one head of 4 rows: llama.cpp's rows are HF rows 0, 2, 1, 3
        assertEquals(0, LlamaNames.sourceRow(0, 8, 2));
        assertEquals(2, LlamaNames.sourceRow(1, 8, 2));
        assertEquals(1, LlamaNames.sourceRow(2, 8, 2));
        assertEquals(3, LlamaNames.sourceRow(3, 8, 2));
        assertEquals(6, LlamaNames.sourceRow(5, 8, 2));
        float[] w = new float[8 * 3];
        for (int i = 0; i < w.length; i++) {
            w[i] = i;
        }
        float[] there = LlamaNames.permuteRows(w, 8, 2, true);
        assertEquals(6f, there[3], "row 1 of llama.cpp's is HF's row 2");
        assertArrayEquals(w, LlamaNames.permuteRows(there, 8, 2, false));
    }
}
