package org.fmsmo.api.deploy;

import ai.djl.ndarray.NDArray;
import java.util.Objects;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;

/**
 * An attention matmul with quantized operands, {@code a·b} over the last two axes
 * ({@code bmm1}: {@code q·kᵀ}, {@code bmm2}: {@code p·v}), as a backend sees it once its
 * quantizers are calibrated. Both operands are activations, so each is quantized at run time with
 * its own calibrated per-tensor scale (and zero point when asymmetric).
 *
 * @param name   module path ({@code model.layers.0.self_attn.bmm1}), for messages; not null
 * @param first  the first operand's quantization, or null when it stays in float (a KV cache:
 *               only keys or values are quantized)
 * @param second the second operand's quantization; not null
 */
@Experimental(since = "1.8")
public record FrozenMatmul(String name, Operand first, Operand second) {

    /**
     * One operand's run-time quantization.
     *
     * @param spec      per-tensor, static (a per-token scale of {@code kᵀ} would fall on the summed axis); not null
     * @param scale     the calibrated scale {@code [1]}; not null
     * @param zeroPoint the calibrated zero point {@code [1]} INT32 for an asymmetric spec, else null
     */
    @Experimental(since = "1.8")
    public record Operand(QuantSpec spec, NDArray scale, NDArray zeroPoint) {

        public Operand {
            Objects.requireNonNull(spec, "spec");
            Objects.requireNonNull(scale, "scale");
            if (spec.granularity() != Granularity.TENSOR) {
                throw new IllegalArgumentException("an attention matmul operand is quantized per tensor, found " + spec);
            }
            if (!spec.symmetric() && zeroPoint == null) {
                throw new IllegalArgumentException("asymmetric operand spec " + spec + " needs a calibrated zero point");
            }
        }
    }

    public FrozenMatmul {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(second, "second");
    }

    /** Whether only the second operand is quantized (keys in {@code q·kᵀ}, values in {@code p·v}). */
    public boolean isKvCache() {
        return first == null;
    }
}
