package org.fmsmo.api.deploy;

import ai.djl.ndarray.NDArray;
import java.util.Objects;
import org.fmsmo.api.Stable;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * Everything a backend needs to run one frozen linear layer.
 *
 * @param name            module path, for messages; not null
 * @param weight          frozen weight {@code [out, in]}; not null
 * @param bias            {@code [out]} FLOAT32, or null
 * @param inputSpec       how the input is quantized at run time, or null for weight-only execution
 * @param inputScale      the calibrated input scale {@code [1]} for static (non-TOKEN) input specs, else null
 * @param inputZeroPoint  the calibrated input zero point {@code [1]} INT32 for static asymmetric input specs, else null
 * @param outlierThreshold since 1.7: with a per-token input, the input channels holding any {@code |x| ≥} this in a
 *                        batch are computed in float against the dequantized weight columns and left out of the
 *                        quantized product ({@link org.fmsmo.api.quant.Quantizer#outlierThreshold}); NaN for none
 */
@Stable(since = "1.0")
public record FrozenLinear(String name, QuantizedTensor weight, NDArray bias, QuantSpec inputSpec, NDArray inputScale,
                           NDArray inputZeroPoint, double outlierThreshold) {

    /** A layer without outlier decomposition (the 1.0 form). */
    public FrozenLinear(String name, QuantizedTensor weight, NDArray bias, QuantSpec inputSpec, NDArray inputScale, NDArray inputZeroPoint) {
        this(name, weight, bias, inputSpec, inputScale, inputZeroPoint, Double.NaN);
    }

    /** Whether some input channels bypass quantization ({@link #outlierThreshold}). */
    @org.fmsmo.api.Experimental(since = "1.7")
    public boolean decomposesOutliers() {
        return !Double.isNaN(outlierThreshold);
    }

    /** Validates that static input specs come with their calibrated scale. */
    public FrozenLinear {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(weight, "weight");
        boolean staticInput = inputSpec != null && inputSpec.granularity() != Granularity.TOKEN;
        if (staticInput && inputScale == null) {
            throw new IllegalArgumentException(name + ": static input spec " + inputSpec + " needs a calibrated input scale");
        }
        if (staticInput && !inputSpec.symmetric() && inputZeroPoint == null) {
            throw new IllegalArgumentException(name + ": asymmetric input spec " + inputSpec + " needs a calibrated zero point");
        }
        if (!Double.isNaN(outlierThreshold) && (inputSpec == null || inputSpec.granularity() != Granularity.TOKEN || !(outlierThreshold > 0))) {
            throw new IllegalArgumentException(name + ": an outlier threshold (found " + outlierThreshold + ") goes with a positive value and a"
                    + " per-token input spec (found " + inputSpec + ")");
        }
    }

    /** A layer whose input is quantized per token at run time (or not at all when {@code inputSpec} is null). */
    public static FrozenLinear dynamic(String name, QuantizedTensor weight, NDArray bias, QuantSpec inputSpec) {
        return new FrozenLinear(name, weight, bias, inputSpec, null, null);
    }
}
