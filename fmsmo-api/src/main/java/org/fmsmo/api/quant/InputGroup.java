package org.fmsmo.api.quant;

import java.util.List;
import java.util.Objects;
import org.fmsmo.api.Stable;

/**
 * Linear layers that read the same input tensor (q/k/v; gate/up), as the analyzer's trace found
 * them, with the operation that produced the input.
 *
 * @param layers   the layers, in forward order; not empty
 * @param producer the module that produced the input ({@code model.layers.0.input_layernorm}); since
 *                 1.6, for an input whose channels are a linear layer's output channels passed
 *                 through attention or a gate one to one (o_proj's, down_proj's), that linear layer
 *                 ({@code …self_attn.v_proj}, {@code …mlp.up_proj}); {@code ""} when it was not a
 *                 traced module
 * @param foldable whether a per-channel scale of the input can be folded into the producer: it is
 *                 a norm with a gain, or such a linear layer, and its output feeds only these layers
 */
@Stable(since = "1.0")
public record InputGroup(List<String> layers, String producer, boolean foldable) {

    /** Copies and validates. */
    public InputGroup {
        layers = List.copyOf(layers);
        Objects.requireNonNull(producer, "producer");
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("an input group needs at least one layer");
        }
    }
}
