package org.fmsmo.api.quant;

import java.util.Optional;
import org.fmsmo.api.Stable;
import org.fmsmo.api.model.LinearLayer;

/**
 * Takes the place of a {@link LinearLayer} and simulates quantization around it: the input goes
 * through the input quantizer (if any), the weight through the weight quantizer, then the linear
 * is computed in float. After {@link #freeze()} the weight is held as a {@link QuantizedTensor}
 * and the float weight is no longer used. Not thread-safe.
 */
@Stable(since = "1.0")
public interface LayerWrapper extends LinearLayer {

    /** The layer this wrapper replaced (to swap it back); never null. */
    LinearLayer wrapped();

    /** The weight quantizer; never null. */
    Quantizer weightQuantizer();

    /** The input (activation) quantizer; empty for weight-only quantization. */
    Optional<Quantizer> inputQuantizer();

    /**
     * Calibration mode: the quantizers observe what passes and the layer computes in float (so
     * later layers calibrate on float activations). Off by default.
     */
    default void setCalibrating(boolean calibrating) {
    }

    /** Whether {@link #freeze()} has run. */
    boolean isFrozen();

    /**
     * Quantizes the weight once, keeps its frozen form, and from then on computes with its
     * dequantized value. Calling it twice has no further effect.
     */
    void freeze();

    /**
     * Freezes with codes a method computed itself (GPTQ's error-compensated rounding) instead of
     * the weight quantizer's rounding of the float weight; from then on the layer computes with
     * their dequantized value.
     *
     * @param codes shaped as the weight, with a spec of the weight quantizer's type and bits
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#INVALID_ARGUMENT} when
     *         already frozen or the codes do not fit the layer
     */
    default void freeze(QuantizedTensor codes) {
        throw new UnsupportedOperationException(getClass().getName() + " cannot take precomputed codes");
    }

    /**
     * The frozen weight.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#INVALID_ARGUMENT} when not frozen
     */
    QuantizedTensor frozenWeight();
}
