package org.fmsmo.api.deploy;

import org.fmsmo.api.Stable;

/**
 * Executes frozen layers on real integer or FP8 compute. Obtained from
 * {@link DeployBackendProvider#create()} only when the backend is available.
 */
@Stable(since = "1.0")
public interface DeployBackend extends AutoCloseable {

    /** What this backend runs; never null. */
    BackendCapabilities capabilities();

    /**
     * Brings one frozen layer into the backend (the backend copies what it needs; the arrays of
     * {@code layer} are not retained).
     *
     * @param layer not null
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} when
     *         {@link BackendCapabilities#supports} is false, naming the layer, its specs and the schemes offered
     */
    PreparedLinear prepare(FrozenLinear layer);

    /**
     * Whether {@link #prepare} runs layers with {@link FrozenLinear#decomposesOutliers()}: the host
     * keeps such layers simulated on a backend that does not (the default), rather than have their
     * outlier channels quantized.
     */
    @org.fmsmo.api.Experimental(since = "1.7")
    default boolean runsOutlierDecomposition() {
        return false;
    }

    /**
     * Whether {@link #prepare(FrozenMatmul)} runs this attention matmul; the host keeps the matmuls
     * a backend does not run simulated (the default: none).
     */
    @org.fmsmo.api.Experimental(since = "1.8")
    default boolean runs(FrozenMatmul matmul) {
        return false;
    }

    /**
     * Brings one attention matmul into the backend.
     *
     * @param matmul not null
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} when {@link #runs} is false
     */
    @org.fmsmo.api.Experimental(since = "1.8")
    default PreparedMatmul prepare(FrozenMatmul matmul) {
        throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.UNSUPPORTED_SPEC, "this backend runs no attention matmul ("
                + matmul.name() + ")");
    }

    /**
     * What the backend has to report after running (checks it made, kernels it chose), for the
     * evaluation report; empty by default.
     */
    @org.fmsmo.api.Experimental(since = "1.0")
    default java.util.Map<String, Object> diagnostics() {
        return java.util.Map.of();
    }

    /** Releases the backend's resources (device contexts, thread pools); idempotent. */
    @Override
    void close();
}
