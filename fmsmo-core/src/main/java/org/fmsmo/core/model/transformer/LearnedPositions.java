package org.fmsmo.core.model.transformer;

import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.TransformerSpec;

/** The length check of a learned position table (rotary tables make their own). */
final class LearnedPositions {

    private LearnedPositions() {
    }

    /** {@code t}, when the table has that many rows. */
    static int check(int t, TransformerSpec spec) {
        if (t > spec.maxPositions()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "sequence of " + t + " tokens is longer than the model's "
                    + spec.maxPositions() + " learned positions; use a shorter --seq-len");
        }
        return t;
    }
}
