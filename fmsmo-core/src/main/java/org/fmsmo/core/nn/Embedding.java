package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.SparseFormat;

/** A lookup table {@code [num, dim]}: row {@code i} is the vector of id {@code i}. */
public final class Embedding extends Module {

    private final NDArray weight;

    public Embedding(NDArray weight) {
        this.weight = addParameter("weight", weight);
    }

    public NDArray weight() {
        return weight;
    }

    /**
     * @param ids INT64 of any shape
     * @return {@code [..., dim]} in {@code ids}' manager
     */
    public NDArray forward(NDArray ids) {
        // The fused lookup puts the result with the ids, not with the (long-lived) table.
        return ids.getNDArrayInternal().embedding(ids, weight, SparseFormat.DENSE).singletonOrThrow();
    }
}
