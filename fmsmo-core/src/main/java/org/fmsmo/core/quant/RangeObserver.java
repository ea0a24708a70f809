package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import org.fmsmo.api.quant.QuantSpec;

/**
 * Finds a static clip range [lo, hi] from calibration batches (QUANTIZERS.md, "Calibration").
 * The spec's range source picks the observer: MINMAX (and the modes that only need a starting
 * point) keep the extremes, MOVING_MINMAX averages per-batch extremes, PERCENTILE, MSE and
 * ENTROPY work on a histogram of everything seen.
 */
interface RangeObserver {

    /** Adds a batch (detached, finite, FLOAT32). */
    void observe(NDArray x);

    /** Whether nothing has been observed. */
    boolean isEmpty();

    /** {lo, hi}, lo ≤ hi. */
    float[] range();

    static RangeObserver forSpec(QuantSpec spec, boolean symmetric) {
        return switch (spec.rangeSource()) {
            case MOVING_MINMAX -> new MovingMinMax(0.1f);
            case PERCENTILE -> new HistogramObserver(HistogramObserver.Kind.PERCENTILE, spec.bits(), symmetric);
            case MSE -> new HistogramObserver(HistogramObserver.Kind.MSE, spec.bits(), symmetric);
            case ENTROPY -> new HistogramObserver(HistogramObserver.Kind.ENTROPY, spec.bits(), symmetric);
            default -> new MinMax();
        };
    }

    /** Smallest and largest value seen. */
    final class MinMax implements RangeObserver {
        private float lo = Float.POSITIVE_INFINITY;
        private float hi = Float.NEGATIVE_INFINITY;

        @Override
        public void observe(NDArray x) {
            lo = Math.min(lo, x.min().getFloat());
            hi = Math.max(hi, x.max().getFloat());
        }

        @Override
        public boolean isEmpty() {
            return lo > hi;
        }

        @Override
        public float[] range() {
            return new float[] {lo, hi};
        }
    }

    /** Per-batch extremes averaged: {@code r ← r + c·(batch − r)}, starting from the first batch. */
    final class MovingMinMax implements RangeObserver {
        private final float c;
        private float lo;
        private float hi;
        private boolean seen;

        MovingMinMax(float c) {
            this.c = c;
        }

        @Override
        public void observe(NDArray x) {
            float bl = x.min().getFloat();
            float bh = x.max().getFloat();
            if (!seen) {
                lo = bl;
                hi = bh;
                seen = true;
            } else {
                lo += c * (bl - lo);
                hi += c * (bh - hi);
            }
        }

        @Override
        public boolean isEmpty() {
            return !seen;
        }

        @Override
        public float[] range() {
            return new float[] {lo, hi};
        }
    }
}
