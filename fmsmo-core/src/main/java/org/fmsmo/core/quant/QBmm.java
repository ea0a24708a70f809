package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import java.util.Objects;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.nn.Bmm;

/**
 * An attention matmul with its operands quantized: {@code Q₁(a)·Q₂(b)} in float. Both are
 * activations, so both quantizers calibrate in calibration mode (the product is then computed
 * in float). Without a first quantizer only the second operand is quantized: the KV cache (keys
 * in {@code q·kᵀ}, values in {@code p·v}). Swapping it in is reversible: {@link #wrapped()} is the
 * matmul it replaced.
 */
public final class QBmm implements Bmm {

    private final Bmm wrapped;
    private final Quantizer first;
    private final Quantizer second;
    private boolean calibrating;

    /**
     * @param wrapped the float matmul; not itself a QBmm
     * @param first   the first operand's quantizer, or null to leave it in float (the KV cache)
     */
    public QBmm(Bmm wrapped, Quantizer first, Quantizer second) {
        if (wrapped instanceof QBmm) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "matmul " + wrapped.name() + " is already quantized; unwrap it first");
        }
        this.wrapped = Objects.requireNonNull(wrapped, "wrapped");
        this.first = first;
        this.second = Objects.requireNonNull(second, "second");
    }

    @Override
    public String name() {
        return wrapped.name();
    }

    /** The matmul this one replaced. */
    public Bmm wrapped() {
        return wrapped;
    }

    /** The first operand's quantizer; null when only the second is quantized (the KV cache). */
    public Quantizer first() {
        return first;
    }

    /** The second operand's quantizer. */
    public Quantizer second() {
        return second;
    }

    /** Calibration mode: observe both operands, compute in float. */
    public void setCalibrating(boolean calibrating) {
        this.calibrating = calibrating;
    }

    /** Ends calibration: the quantizers fix the ranges they observed. */
    public void endCalibration() {
        if (first != null) {
            first.endCalibration();
        }
        second.endCalibration();
    }

    @Override
    public NDArray apply(NDArray a, NDArray b) {
        if (calibrating) {
            if (first != null) {
                first.observe(a);
            }
            second.observe(b);
            return wrapped.apply(a, b);
        }
        NDArray qa = first == null ? a : first.fakeQuantize(a);
        NDArray qb = second.fakeQuantize(b);
        return wrapped.apply(qa, qb);
    }
}
