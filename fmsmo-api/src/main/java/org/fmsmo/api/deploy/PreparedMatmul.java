package org.fmsmo.api.deploy;

import ai.djl.ndarray.NDArray;
import org.fmsmo.api.Experimental;

/** An attention matmul brought into a backend ({@link DeployBackend#prepare(FrozenMatmul)}), ready to run. */
@Experimental(since = "1.8")
public interface PreparedMatmul extends AutoCloseable {

    /**
     * Quantizes both operands as the {@link FrozenMatmul} says and multiplies them.
     *
     * @param a {@code [..., T, K]}, FLOAT32
     * @param b {@code [..., K, S]}, FLOAT32, the same leading axes as {@code a}
     * @return {@code [..., T, S]}, FLOAT32, in {@code a}'s manager (the caller owns it)
     */
    NDArray forward(NDArray a, NDArray b);

    /** Frees what {@code prepare} allocated; idempotent; never throws. */
    @Override
    void close();
}
