package org.fmsmo.plugin.gptq;

/**
 * The integer grid GPTQ rounds onto, per output row of one group (QUANTIZERS.md, the same
 * arithmetic in FLOAT32 as the host's {@code maxfull*} and {@code minmax*} quantizers, so GPTQ
 * with an identity Hessian is exactly round-to-nearest):
 * <ul>
 *   <li>symmetric, full range: {@code s = amax/((2^b − 1)/2)}, {@code q = clamp(round(w/s), −2^(b−1), 2^(b−1) − 1)};</li>
 *   <li>asymmetric: the range widened to contain 0, {@code s = (max − min)/(2^b − 1)},
 *       {@code zp = clamp(round(−min/s), 0, 2^b − 1)}, {@code q = clamp(round(w/s) + zp, 0, 2^b − 1)}.</li>
 * </ul>
 * A zero range gives {@code s = 1}. Rounding is half to even.
 */
final class IntGrid {

    private final int bits;
    private final boolean symmetric;
    private final boolean halfScales;
    final float[] scale;
    final int[] zero;

    /**
     * Parameters for {@code rows} output rows, found by {@link #fit}.
     *
     * @param halfScales round each scale to the nearest F16 value (GPTQ checkpoints store F16
     *                   scales; rounding here keeps the stored model equal to the computed one)
     */
    IntGrid(int bits, boolean symmetric, int rows, boolean halfScales) {
        this.bits = bits;
        this.symmetric = symmetric;
        this.halfScales = halfScales;
        this.scale = new float[rows];
        this.zero = symmetric ? null : new int[rows];
    }

    /**
     * Fits the scale (and zero point) of rows {@code [r0, r1)} to columns {@code [c0, c1)} of
     * {@code wt}, the transposed weight ({@code [in][rows]}, row-major); other rows are left as
     * they are, so disjoint row ranges can be fitted in parallel.
     */
    void fit(float[] wt, int rows, int c0, int c1, int r0, int r1) {
        float[] min = new float[rows];
        float[] max = new float[rows];
        java.util.Arrays.fill(min, r0, r1, Float.POSITIVE_INFINITY);
        java.util.Arrays.fill(max, r0, r1, Float.NEGATIVE_INFINITY);
        for (int c = c0; c < c1; c++) {
            int base = c * rows;
            for (int r = r0; r < r1; r++) {
                float v = wt[base + r];
                min[r] = Math.min(min[r], v);
                max[r] = Math.max(max[r], v);
            }
        }
        float levels = (1 << bits) - 1;
        for (int r = r0; r < r1; r++) {
            if (symmetric) {
                float amax = Math.max(Math.abs(min[r]), Math.abs(max[r]));
                scale[r] = half(nonZero(amax / (levels / 2f)));
            } else {
                float lo = Math.min(min[r], 0f);
                float hi = Math.max(max[r], 0f);
                scale[r] = half(nonZero((hi - lo) / levels));
                zero[r] = (int) Math.min(Math.max(Math.rint(-lo / scale[r]), 0), levels);
            }
        }
    }

    private float half(float s) {
        if (!halfScales) {
            return s;
        }
        float h = Float.float16ToFloat(Float.floatToFloat16(s));
        return h == 0f ? Float.float16ToFloat((short) 1) : h; // the smallest F16 subnormal rather than 0
    }

    private static float nonZero(float s) {
        return s == 0f ? 1f : s;
    }

    /** The code of {@code w} in row {@code r}. */
    int code(float w, int r) {
        float z = (float) Math.rint(w / scale[r]);
        if (symmetric) {
            float lo = -(1 << (bits - 1));
            return (int) Math.min(Math.max(z, lo), -lo - 1);
        }
        return (int) Math.min(Math.max(z + zero[r], 0), (1 << bits) - 1);
    }

    /** The dequantized value of a code in row {@code r}: {@code (q − zp)·s}, as the frozen tensor computes it. */
    float value(int code, int r) {
        return symmetric ? code * scale[r] : (float) (code - zero[r]) * scale[r];
    }
}
