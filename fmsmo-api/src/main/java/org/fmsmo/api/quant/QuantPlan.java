package org.fmsmo.api.quant;

import java.util.List;
import java.util.Optional;
import org.fmsmo.api.Stable;

/**
 * The analyzer's answer to "which layers, how": one decision per layer, in forward order.
 *
 * @param layers      not null; copied; linear layers and attention matmuls ({@code kind} {@code bmm})
 * @param inputGroups the linear layers grouped by the input they read; empty when the model was
 *                    not traced
 */
@Stable(since = "1.0")
public record QuantPlan(List<LayerDecision> layers, List<InputGroup> inputGroups) {

    /** Copies the lists. */
    public QuantPlan {
        layers = List.copyOf(layers);
        inputGroups = List.copyOf(inputGroups);
    }

    /** A plan without input groups. */
    public QuantPlan(List<LayerDecision> layers) {
        this(layers, List.of());
    }

    /** The input group a layer belongs to, if the plan has one. */
    public Optional<InputGroup> inputGroup(String layer) {
        return inputGroups.stream().filter(g -> g.layers().contains(layer)).findFirst();
    }

    /** The linear layers to quantize, in order. */
    public List<LayerDecision> quantized() {
        return layers.stream().filter(d -> d.quantize() && d.kind().equals(LayerDecision.LINEAR)).toList();
    }

    /** The attention matmuls to quantize, in order. */
    public List<LayerDecision> quantizedBmms() {
        return layers.stream().filter(d -> d.quantize() && d.kind().equals(LayerDecision.BMM)).toList();
    }

    /** The decision for a layer, if the plan has one. */
    public Optional<LayerDecision> decision(String name) {
        return layers.stream().filter(d -> d.name().equals(name)).findFirst();
    }

    /**
     * The decision for a layer the plan quantizes, for a method handed that layer (a stage of
     * {@link QuantContext#sequential}, another method's {@link StageQuantizer}).
     *
     * @param method the method asking, for the message
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#INVALID_ARGUMENT} when the
     *         plan does not quantize it
     */
    @org.fmsmo.api.Experimental(since = "1.6")
    public LayerDecision quantizedDecision(String name, String method) {
        return decision(name).filter(LayerDecision::quantize).orElseThrow(() -> new org.fmsmo.api.FmsmoException(
                org.fmsmo.api.ErrorCode.INVALID_ARGUMENT, method + " was handed layer " + name + ", which the plan does not quantize"));
    }

    /**
     * Whether a per-channel scale of the input {@code layers} read can be folded into its producer
     * ({@link QuantContext#smooth} without a run-time divisor): their input group is
     * {@link InputGroup#foldable() foldable} and is exactly these layers.
     */
    @org.fmsmo.api.Experimental(since = "1.6")
    public boolean foldable(List<String> layers) {
        Optional<InputGroup> group = layers.isEmpty() ? Optional.empty() : inputGroup(layers.getFirst());
        return group.isPresent() && group.get().foldable() && new java.util.HashSet<>(group.get().layers()).equals(new java.util.HashSet<>(layers));
    }
}
