package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;

/**
 * A batched matrix product inside attention ({@code bmm1}: QKᵀ, {@code bmm2}: AV), held in a
 * module slot so quantization can swap it for one that quantizes both operands.
 */
public interface Bmm {

    /** Its module path ({@code model.layers.0.self_attn.bmm1}). */
    String name();

    /** {@code a · b} over the last two axes. */
    NDArray apply(NDArray a, NDArray b);

    /** The float product. */
    static Bmm plain(String name) {
        return new Bmm() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public NDArray apply(NDArray a, NDArray b) {
                return a.matMul(b);
            }
        };
    }
}
