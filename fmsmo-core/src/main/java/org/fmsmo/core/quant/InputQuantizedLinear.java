package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import java.util.Objects;
import java.util.Optional;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.Quantizer;

/**
 * A loaded deployable checkpoint's linear layer: the weight is already the dequantized stored one,
 * and the input goes through the activation quantizer the serving engine applies (per-token FP8,
 * a static input scale …), so evaluating the loaded model measures what the engine computes.
 */
public final class InputQuantizedLinear implements LinearLayer {

    private final LinearLayer wrapped;
    private final Quantizer input;

    public InputQuantizedLinear(LinearLayer wrapped, Quantizer input) {
        this.wrapped = Objects.requireNonNull(wrapped, "wrapped");
        this.input = Objects.requireNonNull(input, "input");
    }

    /** The input quantizer. */
    public Quantizer inputQuantizer() {
        return input;
    }

    @Override
    public String name() {
        return wrapped.name();
    }

    @Override
    public long inFeatures() {
        return wrapped.inFeatures();
    }

    @Override
    public long outFeatures() {
        return wrapped.outFeatures();
    }

    @Override
    public NDArray weight() {
        return wrapped.weight();
    }

    @Override
    public Optional<NDArray> bias() {
        return wrapped.bias();
    }

    @Override
    public NDArray forward(NDArray x) {
        return wrapped.forward(input.fakeQuantize(x));
    }
}
