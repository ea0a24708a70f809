package org.fmsmo.api.model;

import ai.djl.ndarray.NDArray;
import java.util.Optional;
import org.fmsmo.api.Experimental;

/**
 * A fully connected layer {@code y = x·Wᵀ + b} inside a model, as quantization methods see it.
 * Not thread-safe unless the implementation says so.
 */
@Experimental(since = "1.0")
public interface LinearLayer {

    /** The module path in Hugging Face naming, e.g. {@code model.layers.0.self_attn.q_proj}; never null. */
    String name();

    /** Input features (columns of the weight). */
    long inFeatures();

    /** Output features (rows of the weight). */
    long outFeatures();

    /** The weight {@code [out, in]}, FLOAT32; owned by the model; callers must not close it. */
    NDArray weight();

    /** The bias {@code [out]}, FLOAT32, if the layer has one; owned by the model. */
    Optional<NDArray> bias();

    /**
     * Applies the layer to {@code x} of shape {@code [..., in]}.
     *
     * @return {@code [..., out]}, FLOAT32, in {@code x}'s manager (the caller owns it)
     */
    NDArray forward(NDArray x);
}
