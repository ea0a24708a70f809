package org.fmsmo.api.quant;

import ai.djl.ndarray.NDArray;
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
 * <p>Not thread-safe: a quantizer belongs to one layer, driven by one thread at a time.
 */
@Stable(since = "1.0")
public interface Quantizer {

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
}
