package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;

/**
 * Statistics-aware weight binning (QUANTIZERS.md): {@code α = c₁·sqrt(E[w²]) − c₂·E[|w|]} per
 * tensor or per output channel, with (c₁, c₂) fitted per bit width. 2, 4, 7 and 8 bits use the
 * fits for the zero-aligned grid; 3 and 5 bits the older fits (no aligned fit was published);
 * 6 bits has no fit at all.
 */
final class Sawb {

    private static final double[][] COEFFICIENTS = new double[9][];

    static {
        COEFFICIENTS[2] = new double[] {2.6, 1.71};
        COEFFICIENTS[3] = new double[] {7.509, 6.892};
        COEFFICIENTS[4] = new double[] {12.035, 12.03};
        COEFFICIENTS[5] = new double[] {17.74, 18.64};
        COEFFICIENTS[7] = new double[] {28.24, 30.81};
        COEFFICIENTS[8] = new double[] {31.76, 35.04};
    }

    private Sawb() {
    }

    static boolean supports(int bits) {
        return bits < COEFFICIENTS.length && COEFFICIENTS[bits] != null;
    }

    /** α per block ([1] or [rows, 1]), at least 0. */
    static NDArray clip(NDArray w, QuantSpec spec) {
        double[] c = COEFFICIENTS[spec.bits()];
        boolean perRow = spec.granularity() == Granularity.CHANNEL;
        NDArray meanSq = perRow ? w.square().mean(new int[] {1}, true) : w.square().mean().reshape(1);
        NDArray meanAbs = perRow ? w.abs().mean(new int[] {1}, true) : w.abs().mean().reshape(1);
        return meanSq.sqrt().mul((float) c[0]).sub(meanAbs.mul((float) c[1])).maximum(0f);
    }
}
