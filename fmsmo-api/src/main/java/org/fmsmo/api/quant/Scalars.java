package org.fmsmo.api.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.function.BinaryOperator;
import org.fmsmo.api.Stable;

/**
 * Arithmetic with a constant on arrays that autograd may record. Use it in every forward pass and
 * surrogate that training differentiates.
 *
 * <p>Why it exists: DJL's PyTorch engine implements {@code x.mul(2f)}, {@code div},
 * {@code pow}, {@code maximum} and {@code minimum} with a number by making a 0-d tensor over a
 * direct {@code ByteBuffer}, running the op, and closing that tensor at once. Autograd keeps the
 * constant for the backward pass ({@code ∂(x·c)/∂x = c}), but nothing keeps the buffer: a garbage
 * collection between forward and backward frees it, and the gradient is computed from whatever
 * the allocator put there since. Training then differs from run to run (and from a resumed run)
 * depending on when the collector ran. Here the constant is made by the engine ({@code full}),
 * so the tensor autograd keeps owns its memory.
 *
 * <p>Outside autograd (inference, calibration statistics, frozen weights) the plain DJL methods
 * are fine: the constant is used before it is closed.
 */
@Stable(since = "1.0")
public final class Scalars {

    private Scalars() {
    }

    /** A 0-d array of {@code like}'s manager, device and type holding {@code value}, in engine-owned memory. */
    public static NDArray of(NDArray like, float value) {
        return like.getManager().full(new Shape(), value, like.getDataType());
    }

    /** {@code x · c}. */
    public static NDArray mul(NDArray x, float c) {
        return withConstant(x, c, NDArray::mul);
    }

    /** {@code x / c}. */
    public static NDArray div(NDArray x, float c) {
        return withConstant(x, c, NDArray::div);
    }

    /** {@code x ^ c}. */
    public static NDArray pow(NDArray x, float c) {
        return withConstant(x, c, NDArray::pow);
    }

    /** Element-wise {@code max(x, c)}. */
    public static NDArray maximum(NDArray x, float c) {
        return withConstant(x, c, NDArray::maximum);
    }

    /** Element-wise {@code min(x, c)}. */
    public static NDArray minimum(NDArray x, float c) {
        return withConstant(x, c, NDArray::minimum);
    }

    /** {@code op(x, c)} with {@code c} made by the engine; the Java handle is closed, autograd keeps its own reference. */
    private static NDArray withConstant(NDArray x, float c, BinaryOperator<NDArray> op) {
        try (NDArray s = of(x, c)) {
            return op.apply(x, s);
        }
    }
}
