package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Scopes;
import org.fmsmo.core.nn.Trace;
import org.fmsmo.core.nn.Weights;

/**
 * A gated feed-forward, {@code down(act(gate(x)) ⊙ up(x))}: the dense MLP of a block, or one
 * expert of a mixture. Gate and up may be one fused projection (gate rows first). GPT-2's is
 * not gated: {@code down(act(up(x)))}.
 */
final class FeedForward extends Module {

    private final TransformerSpec.Activation activation;
    private final long width;
    private final String gate;
    private final String up;
    private final String down;
    private final String gateUp;

    /** The block's dense MLP. */
    static FeedForward dense(TransformerSpec s, Weights w, String prefix) {
        TransformerSpec.Names n = s.names();
        return new FeedForward(s, w, prefix, s.intermediateSize(), s.mlpBias(), s.fusedGateUp() ? n.of(Part.GATE_UP) : null,
                s.gatedMlp() ? n.of(Part.GATE) : null, n.of(Part.UP), n.of(Part.DOWN));
    }

    /** One expert of a mixture. */
    static FeedForward expert(TransformerSpec s, Weights w, String prefix) {
        TransformerSpec.Names n = s.names();
        return new FeedForward(s, w, prefix, s.moe().intermediateSize(), false, null, n.of(Part.EXPERT_GATE), n.of(Part.EXPERT_UP),
                n.of(Part.EXPERT_DOWN));
    }

    /** @param gate null for a plain MLP, {@code down(act(up(x)))} */
    private FeedForward(TransformerSpec s, Weights w, String prefix, int width, boolean bias, String gateUp, String gate, String up,
                       String down) {
        this.activation = s.activation();
        this.width = width;
        long h = s.hiddenSize();
        this.gateUp = gateUp;
        if (gateUp != null) {
            this.gate = this.up = null;
            addLinear(gateUp, TransformerBlock.linear(s, w, prefix + "." + gateUp, h, 2L * width, bias));
        } else {
            this.gate = gate;
            this.up = up;
            if (gate != null) {
                addLinear(gate, TransformerBlock.linear(s, w, prefix + "." + gate, h, width, bias));
            }
            addLinear(up, TransformerBlock.linear(s, w, prefix + "." + up, h, width, bias));
        }
        this.down = down;
        addLinear(down, TransformerBlock.linear(s, w, prefix + "." + down, width, h, bias));
    }

    /**
     * Each intermediate-sized array is freed as soon as the next exists: at 8B shapes and 4,096
     * tokens three are alive at once rather than five (0.7 GB rather than 1.2 GB).
     */
    NDArray forward(NDArray x) {
        NDArray product = step("product", () -> product(x));
        NDArray y = linear(down, product);
        product.close();
        return y;
    }

    /** down_proj's input. */
    private NDArray product(NDArray x) {
        NDArray product;
        if (gateUp != null) {
            product = Scopes.step(() -> {
                NDArray both = linear(gateUp, x);
                NDArray g = both.get(new NDIndex("..., 0:{}", width));
                return Activations.apply(activation, g).mul(both.get(new NDIndex("..., {}:", width)));
            });
        } else if (gate == null) {
            product = Scopes.step(() -> Activations.apply(activation, linear(up, x)));
        } else {
            NDArray act = Scopes.step(() -> Activations.apply(activation, linear(gate, x)));
            product = Scopes.step(() -> {
                NDArray u = linear(up, x);
                // down_proj's input channel j is up_proj's channel j times a factor of the gate: a
                // per-channel scale of it can be folded into up_proj's rows.
                return Trace.call("channelwise", path(), act.mul(u), u);
            });
            act.close();
        }
        return product;
    }

    // For ResidualRotation: full layer names.

    /** The projections that read the normed input: gate and up (or the fused gate_up, or up alone). */
    java.util.List<String> inputLinears() {
        if (gateUp != null) {
            return java.util.List.of(path() + "." + gateUp);
        }
        return gate == null ? java.util.List.of(path() + "." + up) : java.util.List.of(path() + "." + gate, path() + "." + up);
    }

    /** The down projection, which writes the residual stream. */
    String outputLinear() {
        return path() + "." + down;
    }
}
