package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;

/** A norm over the last axis ({@link RmsNorm}, {@link LayerNorm}), as the blocks that hold one call it. */
public interface Normalization {

    NDArray forward(NDArray x);
}
