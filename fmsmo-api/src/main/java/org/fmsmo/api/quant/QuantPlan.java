package org.fmsmo.api.quant;

import java.util.List;
import java.util.Optional;
import org.fmsmo.api.Stable;

/**
 * The analyzer's answer to "which layers, how": one decision per layer, in forward order.
 *
 * @param layers not null; copied
 */
@Stable(since = "1.0")
public record QuantPlan(List<LayerDecision> layers) {

    /** Copies the list. */
    public QuantPlan {
        layers = List.copyOf(layers);
    }

    /** The layers to quantize, in order. */
    public List<LayerDecision> quantized() {
        return layers.stream().filter(LayerDecision::quantize).toList();
    }

    /** The decision for a layer, if the plan has one. */
    public Optional<LayerDecision> decision(String name) {
        return layers.stream().filter(d -> d.name().equals(name)).findFirst();
    }
}
