package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.quant.Scalars;

/**
 * What enters the first block, from the token embedding rows: the whole model and the streamed
 * one (which gathers the rows from the mapped table) finish them here, the same way.
 */
final class Embeddings {

    private Embeddings() {
    }

    /**
     * Adds the learned positions {@code 0..T−1} (GPT-2) and applies the embedding multiplier
     * (Granite's, Gemma's √hidden); the intermediate arrays are freed.
     *
     * @param tokens    the token rows {@code [B, T, hidden]}
     * @param positions the learned position table {@code [maxPositions, hidden]}; null with rotary positions
     */
    static NDArray finish(TransformerSpec spec, NDArray tokens, NDArray positions) {
        NDArray x = tokens;
        if (positions != null) {
            int t = Math.toIntExact(tokens.getShape().get(1));
            if (t > spec.maxPositions()) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "sequence of " + t + " tokens is longer than the model's "
                        + spec.maxPositions() + " learned positions; use a shorter --seq-len");
            }
            x = tokens.add(positions.get(new NDIndex("0:{}", t)));
            tokens.close();
        }
        double scale = spec.scaling().embedding();
        if (scale != 1) {
            // Gemma rounds √hidden to the weights' dtype first; in FLOAT32 that is this float.
            NDArray unscaled = x;
            x = Scalars.mul(unscaled, (float) scale);
            unscaled.close();
        }
        return x;
    }
}
