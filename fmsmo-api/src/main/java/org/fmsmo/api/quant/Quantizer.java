package org.fmsmo.api.quant;

import ai.djl.ndarray.NDArray;
import java.util.Map;
import org.fmsmo.api.Stable;

/**
 * Maps a tensor to its quantized-dequantized value (simulation) and to its frozen form. One
 * quantizer serves one tensor role (the weight of a layer, or its input), so it may hold state:
 * ranges observed during calibration, or learned clip parameters.
 *
 * <p>Range contract: a quantizer whose {@link QuantSpec#rangeSource()} needs observations
 * (MINMAX, MOVING_MINMAX, PERCENTILE, MSE, ENTROPY for activations) uses what {@link #observe} saw;
 * when it has observed nothing it computes the range from the tensor it is given (the usual case
 * for weights). DYNAMIC quantizers compute the range of every input anew.
 *
 * <p>Gradients: {@link #fakeQuantize} is differentiable under DJL autograd. Its value is always
 * the dequantized frozen form; its gradient is the one the mode defines (straight-through,
 * PACT's clip gradient, LSQ's scaled step gradient), reaching the input and the arrays of
 * {@link #parameters()}. Arithmetic with a constant on the differentiated path goes through
 * {@link Scalars} (DJL's {@code mul(float)} leaves autograd a constant the garbage collector may free).
 *
 * <p>Not thread-safe: a quantizer belongs to one layer, driven by one thread at a time. It may own
 * native arrays (clips); {@link #close()} frees them.
 */
@Stable(since = "1.0")
public interface Quantizer extends AutoCloseable {

    /** The spec this quantizer produces; never null. */
    QuantSpec spec();

    /** The mode name it was created under ({@code max}, {@code minmaxperCh}); never null. */
    String mode();

    /**
     * Records statistics of a calibration batch. Quantizers that do not calibrate ignore it.
     *
     * @param x any shape the spec's granularity allows; not modified, not retained
     */
    default void observe(NDArray x) {
    }

    /**
     * The quantized-then-dequantized value of {@code x}: same shape, FLOAT32, in {@code x}'s
     * manager (the caller owns it). {@code x} is not modified.
     */
    NDArray fakeQuantize(NDArray x);

    /**
     * The frozen form of {@code x}: {@code quantize(x).dequantize()} equals {@code fakeQuantize(x)}
     * bit for bit. Arrays are created in {@code x}'s manager.
     */
    QuantizedTensor quantize(NDArray x);

    /**
     * Fixes the range from what {@link #observe} saw: static modes keep it, learned modes start
     * from it. Without observations nothing changes. Calling it again after more observations
     * recomputes the range.
     */
    default void endCalibration() {
    }

    /**
     * The learnable parameters (PACT clips, LSQ step and offset) by name, for an optimizer; they
     * require gradients. Empty for modes that learn nothing, and before the first range is known.
     */
    default Map<String, NDArray> parameters() {
        return Map.of();
    }

    /**
     * Training mode: weight modes that follow {@code max|w|} update their clip as an exponential
     * moving average (0.1) instead of recomputing it. Off by default.
     */
    default void setTraining(boolean training) {
    }

    /**
     * The calibrated or learned state by the fms-mo names ({@code clip_val}, {@code clip_valn},
     * {@code scale}…), to be saved with a checkpoint. Empty when the range comes from each tensor.
     */
    default Map<String, float[]> state() {
        return Map.of();
    }

    /**
     * Restores what {@link #state()} returned, or sets a clip by hand ({@code clip_val} and
     * optionally {@code clip_valn} for the {@code fix} mode).
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#INVALID_ARGUMENT} for an
     *         unknown name or a wrong number of values
     */
    default void loadState(Map<String, float[]> state) {
        if (!state.isEmpty()) {
            throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.INVALID_ARGUMENT,
                    "quantizer '" + mode() + "' keeps no state, found " + state.keySet());
        }
    }

    /**
     * LLM.int8-style outlier decomposition of an input quantizer: in each batch, the input
     * channels holding any {@code |x| ≥} this threshold are not quantized but multiplied in float
     * with the dequantized weight's columns, and the other channels are quantized without them.
     * Empty (the default) for a quantizer that quantizes every channel.
     */
    @org.fmsmo.api.Experimental(since = "1.7")
    default java.util.OptionalDouble outlierThreshold() {
        return java.util.OptionalDouble.empty();
    }

    /** Frees the native arrays the quantizer owns. */
    @Override
    default void close() {
    }
}
