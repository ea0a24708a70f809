package org.fmsmo.plugin.gguf;

import java.nio.ByteBuffer;

/**
 * The Q4_K super-block: 256 weights in 8 sub-blocks of 32, each {@code w = d·sc·q − dmin·m} with
 * 4-bit {@code q} and 6-bit {@code sc}, {@code m}. The 12 scale bytes pack the 8 (sc, m) pairs as
 * llama.cpp's {@code get_scale_min_k4} reads them: pairs 0–3 in the low 6 bits of bytes 0–3 (sc)
 * and 4–7 (m); pairs 4–7 in the nibbles of bytes 8–11, their top 2 bits in the top bits of bytes
 * 0–7. The 128 quant bytes hold, per 64 weights, 32 bytes: sub-block 2k in the low nibbles,
 * sub-block 2k+1 in the high ones.
 */
final class Q4K {

    private Q4K() {
    }

    static void quantize(float[] x, int base, ByteBuffer out) {
        float[] scales = new float[8];
        float[] mins = new float[8];
        for (int j = 0; j < 8; j++) {
            float[] sm = subBlock(x, base + 32 * j);
            scales[j] = sm[0];
            mins[j] = sm[1];
        }
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < 8; j++) {
            maxScale = Math.max(maxScale, scales[j]);
            maxMin = Math.max(maxMin, mins[j]);
        }
        short dHalf = Float.floatToFloat16(maxScale / 63);
        short dminHalf = Float.floatToFloat16(maxMin / 63);
        float d = Float.float16ToFloat(dHalf);
        float dmin = Float.float16ToFloat(dminHalf);
        int[] ls = new int[8];
        int[] lm = new int[8];
        for (int j = 0; j < 8; j++) {
            ls[j] = d > 0 ? Math.min(63, (int) Math.rint(scales[j] / d)) : 0;
            lm[j] = dmin > 0 ? Math.min(63, (int) Math.rint(mins[j] / dmin)) : 0;
        }
        out.putShort(dHalf);
        out.putShort(dminHalf);
        byte[] packed = new byte[12];
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                packed[j] = (byte) ls[j];
                packed[j + 4] = (byte) lm[j];
            } else {
                packed[j + 4] = (byte) ((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
                packed[j - 4] |= (byte) ((ls[j] >> 4) << 6);
                packed[j] |= (byte) ((lm[j] >> 4) << 6);
            }
        }
        out.put(packed);
        // the codes are chosen against the scales as stored (fp16 d times 6-bit sc), not the ideal ones
        int[] q = new int[256];
        for (int j = 0; j < 8; j++) {
            float step = d * ls[j];
            float offset = dmin * lm[j];
            for (int i = 0; i < 32; i++) {
                q[32 * j + i] = step > 0 ? Math.clamp((long) Math.rint((x[base + 32 * j + i] + offset) / step), 0, 15) : 0;
            }
        }
        for (int c = 0; c < 256; c += 64) {
            for (int l = 0; l < 32; l++) {
                out.put((byte) (q[c + l] | (q[c + l + 32] << 4)));
            }
        }
    }

    /**
     * One sub-block's (scale, min) with {@code w ≈ scale·q − min}, {@code min ≥ 0}: from its range,
     * then refined once by least squares over the codes that range gives, kept if it lowers the
     * squared error.
     */
    private static float[] subBlock(float[] x, int off) {
        float lo = 0;
        float hi = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < 32; i++) {
            lo = Math.min(lo, x[off + i]); // the offset is −lo ≥ 0: a block of positives keeps offset 0
            hi = Math.max(hi, x[off + i]);
        }
        if (hi <= lo) {
            return new float[] {0, -lo};
        }
        float scale = (hi - lo) / 15;
        float min = -lo;
        double best = error(x, off, scale, min);
        // least squares for (a, b) in w ≈ a·q + b over the codes of the range fit
        double sq = 0;
        double sqq = 0;
        double sx = 0;
        double sqx = 0;
        for (int i = 0; i < 32; i++) {
            int q = Math.clamp((long) Math.rint((x[off + i] + min) / scale), 0, 15);
            sq += q;
            sqq += (double) q * q;
            sx += x[off + i];
            sqx += q * (double) x[off + i];
        }
        double det = 32 * sqq - sq * sq;
        if (det > 0) {
            double a = (32 * sqx - sq * sx) / det;
            double b = (sx - a * sq) / 32;
            if (b > 0) { // the format's offset only subtracts
                b = 0;
                a = sqq > 0 ? sqx / sqq : a;
            }
            if (a > 0) {
                double e = error(x, off, (float) a, (float) -b);
                if (e < best) {
                    scale = (float) a;
                    min = (float) -b;
                }
            }
        }
        return new float[] {scale, min};
    }

    private static double error(float[] x, int off, float scale, float min) {
        double e = 0;
        for (int i = 0; i < 32; i++) {
            int q = Math.clamp((long) Math.rint((x[off + i] + min) / scale), 0, 15);
            double r = scale * q - min - x[off + i];
            e += r * r;
        }
        return e;
    }

    static void dequantize(ByteBuffer in, float[] y, int base) {
        float d = Float.float16ToFloat(in.getShort());
        float dmin = Float.float16ToFloat(in.getShort());
        byte[] s = new byte[12];
        in.get(s);
        byte[] qs = new byte[128];
        in.get(qs);
        int is = 0;
        for (int c = 0, q = 0; c < 256; c += 64, q += 32, is += 2) {
            float d1 = d * scale(is, s);
            float m1 = dmin * min(is, s);
            float d2 = d * scale(is + 1, s);
            float m2 = dmin * min(is + 1, s);
            for (int l = 0; l < 32; l++) {
                y[base + c + l] = d1 * (qs[q + l] & 0xF) - m1;
            }
            for (int l = 0; l < 32; l++) {
                y[base + c + 32 + l] = d2 * ((qs[q + l] & 0xFF) >> 4) - m2;
            }
        }
    }

    /** Sub-block {@code j}'s 6-bit scale, as {@code get_scale_min_k4} unpacks it. */
    static int scale(int j, byte[] s) {
        return j < 4 ? s[j] & 63 : (s[j + 4] & 0xF) | (((s[j - 4] & 0xFF) >> 6) << 4);
    }

    /** Sub-block {@code j}'s 6-bit min. */
    static int min(int j, byte[] s) {
        return j < 4 ? s[j + 4] & 63 : ((s[j + 4] & 0xFF) >> 4) | (((s[j] & 0xFF) >> 6) << 4);
    }
}
