package org.fmsmo.api.deploy;

import ai.djl.ndarray.NDArray;
import org.fmsmo.api.Stable;

/**
 * A frozen linear layer moved into a backend's own layout (packed, on device), ready to run.
 * Closing it frees the backend's copy. Thread-safety is the backend's to state.
 */
@Stable(since = "1.0")
public interface PreparedLinear extends AutoCloseable {

    /**
     * Runs the layer: quantize {@code x} as the input spec says, integer or FP8 matrix product,
     * rescale, add the bias.
     *
     * @param x {@code [tokens, in]}, FLOAT32
     * @return {@code [tokens, out]}, FLOAT32, in {@code x}'s manager (the caller owns it)
     */
    NDArray forward(NDArray x);

    /** Frees what {@code prepare} allocated; idempotent; never throws. */
    @Override
    void close();
}
