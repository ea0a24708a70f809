package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;

/**
 * A histogram of every calibration value over a symmetric range [−R, R] that grows with the data
 * (old bins are moved to the new bin holding their centre), and the three clip searches on it:
 * <ul>
 *   <li>PERCENTILE: the lower and upper percentiles (default 0.1 / 99.9), interpolated in a bin;</li>
 *   <li>MSE: the fraction {@code f ∈ {0.01 … 1}} of the observed range whose quantization grid
 *       gives the least squared error over the histogram (bin centres weighted by counts);</li>
 *   <li>ENTROPY: the TensorRT-style search on the |x| histogram for the threshold whose quantized
 *       distribution has the least KL divergence from the clipped one.</li>
 * </ul>
 */
final class HistogramObserver implements RangeObserver {

    enum Kind { PERCENTILE, MSE, ENTROPY }

    static final int BINS = 2048;

    private final Kind kind;
    private final int bits;
    private final boolean symmetric;
    private final double[] counts = new double[BINS];
    private double percentile = 99.9;
    private float radius;
    private float min = Float.POSITIVE_INFINITY;
    private float max = Float.NEGATIVE_INFINITY;

    HistogramObserver(Kind kind, int bits, boolean symmetric) {
        this.kind = kind;
        this.bits = bits;
        this.symmetric = symmetric;
    }

    void percentile(double upper) {
        if (!(upper > 50 && upper <= 100)) {
            throw new IllegalArgumentException("percentile must be in (50, 100], found " + upper);
        }
        this.percentile = upper;
    }

    @Override
    public void observe(NDArray x) {
        float[] v = x.toFloatArray();
        float amax = 0;
        for (float f : v) {
            min = Math.min(min, f);
            max = Math.max(max, f);
            amax = Math.max(amax, Math.abs(f));
        }
        if (amax > radius) {
            grow(amax);
        }
        if (radius == 0) {
            counts[BINS / 2] += v.length;
            return;
        }
        double perBin = BINS / (2.0 * radius);
        for (float f : v) {
            counts[Math.min(BINS - 1, (int) ((f + radius) * perBin))]++;
        }
    }

    private void grow(float newRadius) {
        if (radius > 0) {
            double[] old = counts.clone();
            java.util.Arrays.fill(counts, 0);
            double oldWidth = 2.0 * radius / BINS;
            double perBin = BINS / (2.0 * newRadius);
            for (int i = 0; i < BINS; i++) {
                if (old[i] != 0) {
                    double centre = -radius + (i + 0.5) * oldWidth;
                    counts[Math.min(BINS - 1, (int) ((centre + newRadius) * perBin))] += old[i];
                }
            }
        } // with radius 0 only zeros were seen, counted in bin BINS/2, which holds 0 at any radius
        radius = newRadius;
    }

    @Override
    public boolean isEmpty() {
        return min > max;
    }

    @Override
    public float[] range() {
        if (radius == 0) {
            return new float[] {0, 0};
        }
        return switch (kind) {
            case PERCENTILE -> new float[] {quantile(1 - percentile / 100), quantile(percentile / 100)};
            case MSE -> mse();
            case ENTROPY -> {
                float t = entropyThreshold();
                yield new float[] {Math.max(min, -t), Math.min(max, t)};
            }
        };
    }

    private double width() {
        return 2.0 * radius / BINS;
    }

    /** The value below which a fraction {@code q} of the observations lie, clamped to [min, max]. */
    float quantile(double q) {
        double total = 0;
        for (double c : counts) {
            total += c;
        }
        double target = q * total;
        double seen = 0;
        for (int i = 0; i < BINS; i++) {
            if (seen + counts[i] >= target && counts[i] > 0) {
                double within = (target - seen) / counts[i];
                float v = (float) (-radius + (i + within) * width());
                return Math.max(min, Math.min(max, v));
            }
            seen += counts[i];
        }
        return max;
    }

    private float[] mse() {
        double best = Double.POSITIVE_INFINITY;
        float[] bestRange = {min, max};
        for (int k = 1; k <= 100; k++) {
            double f = k / 100.0;
            double lo;
            double hi;
            if (symmetric) {
                hi = f * Math.max(Math.abs(min), Math.abs(max));
                lo = -hi;
            } else {
                lo = f * Math.min(min, 0);
                hi = f * Math.max(max, 0);
            }
            double err = error(lo, hi);
            if (err < best) {
                best = err;
                bestRange = new float[] {(float) lo, (float) hi};
            }
        }
        return bestRange;
    }

    /** Σ count·(c − Q(c))² over the bin centres for the grid of range [lo, hi]. */
    private double error(double lo, double hi) {
        double levels = symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
        double scale = symmetric ? hi / levels : (hi - lo) / levels;
        if (scale == 0) {
            return Double.POSITIVE_INFINITY;
        }
        double zp = symmetric ? 0 : Math.rint(-lo / scale);
        double qlo = symmetric ? -levels : 0;
        double qhi = levels;
        double err = 0;
        for (int i = 0; i < BINS; i++) {
            if (counts[i] == 0) {
                continue;
            }
            double c = -radius + (i + 0.5) * width();
            double q = Math.max(qlo, Math.min(qhi, Math.rint(c / scale) + zp));
            double d = c - (q - zp) * scale;
            err += counts[i] * d * d;
        }
        return err;
    }

    /** KL-divergence threshold search on |x| (folded histogram of BINS/2 bins over [0, R]). */
    private float entropyThreshold() {
        int half = BINS / 2;
        double[] abs = new double[half];
        for (int j = 0; j < half; j++) {
            abs[j] = counts[half + j] + counts[half - 1 - j];
        }
        int target = 1 << (bits - 1);
        int bestI = half;
        double bestKl = Double.POSITIVE_INFINITY;
        for (int i = Math.min(target, half); i <= half; i++) {
            double kl = klDivergence(abs, i, target);
            if (kl < bestKl) {
                bestKl = kl;
                bestI = i;
            }
        }
        return (float) (bestI * width());
    }

    /** KL(P‖Q): P = the first i bins with the tail added to the last; Q = P merged into {@code target} levels and spread back. */
    private static double klDivergence(double[] hist, int i, int target) {
        double[] p = java.util.Arrays.copyOf(hist, i);
        for (int j = i; j < hist.length; j++) {
            p[i - 1] += hist[j];
        }
        double[] q = new double[i];
        double perLevel = (double) i / target;
        for (int level = 0; level < target; level++) {
            int start = (int) Math.floor(level * perLevel);
            int end = level == target - 1 ? i : (int) Math.floor((level + 1) * perLevel);
            double sum = 0;
            int nonZero = 0;
            for (int j = start; j < end; j++) {
                sum += hist[j];
                if (hist[j] != 0) {
                    nonZero++;
                }
            }
            for (int j = start; j < end; j++) {
                q[j] = hist[j] != 0 ? sum / nonZero : 0;
            }
        }
        double pSum = 0;
        double qSum = 0;
        for (int j = 0; j < i; j++) {
            pSum += p[j];
            qSum += q[j];
        }
        if (pSum == 0 || qSum == 0) {
            return Double.POSITIVE_INFINITY;
        }
        double kl = 0;
        for (int j = 0; j < i; j++) {
            if (p[j] == 0) {
                continue;
            }
            double pj = p[j] / pSum;
            double qj = q[j] / qSum;
            kl += qj == 0 ? pj * 20 : pj * Math.log(pj / qj); // an empty Q bin under mass: large but finite penalty
        }
        return kl;
    }
}
