package org.fmsmo.api.quant;

import java.util.Objects;
import org.fmsmo.api.Stable;

/**
 * What the plan says about one layer.
 *
 * @param name        module path ({@code model.layers.0.mlp.up_proj}); not null
 * @param kind        {@code linear} or {@code bmm}; not null
 * @param quantize    whether to quantize it
 * @param reason      why (for skipped layers: which rule); not null
 * @param weightSpec  the weight spec when quantized, else null
 * @param inputSpec   the input spec when activations are quantized, else null
 * @param weightMode  the quantizer mode for the weight ({@code maxperCh}), or null for the host's default
 * @param inputMode   the quantizer mode for the input, or null for the host's default
 *
 * <p>For a {@code bmm} (attention matmul) both operands are activations: {@code inputSpec} and
 * {@code inputMode} apply to the first operand, {@code weightSpec} and {@code weightMode} to the second.
 */
@Stable(since = "1.0")
public record LayerDecision(String name, String kind, boolean quantize, String reason, QuantSpec weightSpec,
                            QuantSpec inputSpec, String weightMode, String inputMode) {

    /** Kind of a linear layer. */
    public static final String LINEAR = "linear";
    /** Kind of an attention matmul (QKᵀ or AV). */
    public static final String BMM = "bmm";

    /** A decision with the host's default modes. */
    public LayerDecision(String name, String kind, boolean quantize, String reason, QuantSpec weightSpec, QuantSpec inputSpec) {
        this(name, kind, quantize, reason, weightSpec, inputSpec, null, null);
    }

    /** Validates: a quantized layer needs a weight spec. */
    public LayerDecision {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(reason, "reason");
        if (quantize && weightSpec == null) {
            throw new IllegalArgumentException("layer " + name + " is to be quantized but has no weight spec");
        }
    }
}
