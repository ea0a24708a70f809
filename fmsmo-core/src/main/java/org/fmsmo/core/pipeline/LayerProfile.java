package org.fmsmo.core.pipeline;

/**
 * What the report shows of one of a run's worst layers: where its input's range is and how its
 * weights were rounded.
 *
 * @param name        the layer
 * @param metric      the error it was ranked by: {@code output_rel_error} where the method measured
 *                    it on the calibration inputs, else {@code weight_rel_error}
 * @param error       that error
 * @param inputAbsMax per input channel, {@code max |x|} over the calibration examples, measured on
 *                    the model before the method changed it; null without calibration examples
 * @param weights     the weight's values before and after quantization; null when the layer was
 *                    not frozen by the host's wrapper
 */
public record LayerProfile(String name, String metric, double error, float[] inputAbsMax, Histogram weights) {

    /**
     * Counts of weight values in {@code bins} equal bins over {@code [min, max]} of the float
     * weight (the quantized values are counted in the same bins, values outside clamped to the
     * end bins).
     *
     * @param before the weight as the method quantized it (after any folded scaling)
     * @param after  its dequantized codes
     */
    public record Histogram(double min, double max, long[] before, long[] after) {
    }
}
