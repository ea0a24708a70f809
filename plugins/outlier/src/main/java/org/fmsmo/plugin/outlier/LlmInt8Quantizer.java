package org.fmsmo.plugin.outlier;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;

/**
 * LLM.int8()'s activation side (Dettmers et al. 2022, as bitsandbytes runs it): in each input
 * batch, a channel (column) with any {@code |x| ≥ threshold} is an outlier and stays in float;
 * the other channels are quantized per token (row) to symmetric INT{@code b} with
 * {@code s = max(max_c∉O |x_c|, 1e−5) / (2^(b−1) − 1)}. So the layer computes
 * {@code Σ_c∉O q(x_c)·q(w_c)} — an integer product — plus {@code Σ_c∈O x_c·ŵ_c} in float, and the
 * outliers no longer set the scale of every other channel. Nothing is calibrated: the outliers are
 * found anew in every batch. While observing (calibration), it counts the outlier channels, for
 * the per-layer outlier fraction.
 */
final class LlmInt8Quantizer implements Quantizer {

    static final String MODE = "llm_int8";
    /** LLM.int8's default threshold (bitsandbytes' {@code llm_int8_threshold}). */
    static final float DEFAULT_THRESHOLD = 6.0f;

    private final QuantSpec spec;
    private final float qmax;
    private float threshold = DEFAULT_THRESHOLD;
    private long batches;
    private double outlierFractionSum;
    private long maxOutliers;

    LlmInt8Quantizer(QuantSpec spec) {
        this.spec = spec;
        this.qmax = (1 << (spec.bits() - 1)) - 1;
    }

    @Override
    public QuantSpec spec() {
        return spec;
    }

    @Override
    public String mode() {
        return MODE;
    }

    float threshold() {
        return threshold;
    }

    /** Mean over the observed batches of the fraction of input channels that were outliers; 0 before any. */
    double outlierFraction() {
        return batches == 0 ? 0 : outlierFractionSum / batches;
    }

    /** The most outlier channels one observed batch had. */
    long maxOutliers() {
        return maxOutliers;
    }

    @Override
    public void observe(NDArray x) {
        try (NDManager scope = x.getManager().newSubManager()) {
            NDArray outliers = outlierColumns(x, scope);
            long n = Math.round(outliers.toType(DataType.FLOAT32, false).sum().getFloat());
            batches++;
            outlierFractionSum += (double) n / outliers.getShape().get(0);
            maxOutliers = Math.max(maxOutliers, n);
        }
    }

    @Override
    public NDArray fakeQuantize(NDArray x) {
        NDManager m = x.getManager();
        NDArray result;
        try (NDManager scope = m.newSubManager()) {
            Split split = split(x, scope);
            result = split.codes().mul(split.scale()).add(x.mul(split.outlier()));
            result.attach(m);
        }
        return result;
    }

    /**
     * The inlier channels' codes and per-token scales ({@code [rows, 1]}), the input flattened to
     * rows of {@code [.., in]}; an outlier channel's codes are 0, its values are not in them.
     */
    @Override
    public QuantizedTensor quantize(NDArray x) {
        NDManager m = x.getManager();
        NDArray codes;
        NDArray s;
        try (NDManager scope = m.newSubManager()) {
            Split split = split(x.reshape(-1, x.getShape().get(x.getShape().dimension() - 1)), scope);
            codes = split.codes().toType(DataType.INT8, false);
            s = split.scale();
            codes.attach(m);
            s.attach(m);
        }
        return new QuantizedTensor(spec, codes, s, null);
    }

    /**
     * A batch split as LLM.int8 does: the outlier channels (1, else 0, FLOAT32 {@code [in]}), and
     * the other channels' per-token scales and integer codes (as floats; 0 in the outlier channels).
     */
    private record Split(NDArray outlier, NDArray scale, NDArray codes) {
    }

    private Split split(NDArray x, NDManager scope) {
        NDArray outlier = outlierColumns(x, scope).toType(DataType.FLOAT32, false);
        NDArray inliers = x.mul(outlier.neg().add(1f));
        NDArray s = inliers.abs().max(new int[] {-1}, true).maximum(1e-5f).div(qmax); // max(max |row|, 1e−5) / qmax per token
        return new Split(outlier, s, inliers.div(s).round().clip(-qmax, qmax));
    }

    /** Which input channels of this batch hold a value at or past the threshold, as a boolean {@code [in]}. */
    private NDArray outlierColumns(NDArray x, NDManager scope) {
        long in = x.getShape().get(x.getShape().dimension() - 1);
        NDArray colMax = x.reshape(-1, in).abs().max(new int[] {0});
        NDArray outlier = colMax.gte(threshold);
        outlier.attach(scope);
        return outlier;
    }

    @Override
    public java.util.OptionalDouble outlierThreshold() {
        return java.util.OptionalDouble.of(threshold);
    }

    /** The threshold, so that a reloaded checkpoint splits its inputs where the run did. */
    @Override
    public Map<String, float[]> state() {
        return Map.of("threshold", new float[] {threshold});
    }

    @Override
    public void loadState(Map<String, float[]> state) {
        for (Map.Entry<String, float[]> e : state.entrySet()) {
            if (!e.getKey().equals("threshold") || e.getValue().length != 1 || !(e.getValue()[0] > 0)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "quantizer '" + MODE + "' keeps one positive 'threshold', found "
                        + e.getKey() + " with " + e.getValue().length + " value(s)");
            }
            threshold = e.getValue()[0];
        }
    }
}
