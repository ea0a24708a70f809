package org.fmsmo.core.context;

import ai.djl.ndarray.NDArray;
import java.util.Optional;
import org.fmsmo.api.model.LinearLayer;

/**
 * A linear layer swapped in for a while to look at its inputs: it computes exactly what the layer
 * it stands in for computes, after showing each input to {@link #observe}.
 */
abstract class PassThroughLinear implements LinearLayer {

    private final LinearLayer wrapped;

    PassThroughLinear(LinearLayer wrapped) {
        this.wrapped = wrapped;
    }

    /** The layer to put back. */
    final LinearLayer wrapped() {
        return wrapped;
    }

    /** Sees one input {@code [..., inFeatures]}, as the weight meets it, before the layer runs on it. */
    abstract void observe(NDArray x);

    @Override
    public final String name() {
        return wrapped.name();
    }

    @Override
    public final long inFeatures() {
        return wrapped.inFeatures();
    }

    @Override
    public final long outFeatures() {
        return wrapped.outFeatures();
    }

    @Override
    public final NDArray weight() {
        return wrapped.weight();
    }

    @Override
    public final Optional<NDArray> bias() {
        return wrapped.bias();
    }

    /** Shows {@link #observe} the input as the weight meets it (after a SmoothQuant divisor or an online rotation), then runs the layer. */
    @Override
    public final NDArray forward(NDArray x) {
        observe(wrapped instanceof org.fmsmo.core.nn.Linear plain ? plain.prepareInput(x) : x);
        return wrapped.forward(x);
    }
}
