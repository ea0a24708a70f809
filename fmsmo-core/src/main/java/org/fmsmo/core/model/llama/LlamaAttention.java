package org.fmsmo.core.model.llama;

import ai.djl.ndarray.NDArray;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Bmm;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.RotaryEmbedding;
import org.fmsmo.core.nn.Weights;

/** Multi-head self-attention with grouped KV heads and rotary positions ({@code self_attn}). */
final class LlamaAttention extends Module {

    private final int heads;
    private final int kvHeads;
    private final int headDim;

    LlamaAttention(LlamaConfig c, Weights w, String prefix) {
        this.heads = c.numHeads();
        this.kvHeads = c.numKvHeads();
        this.headDim = c.headDim();
        addLinear("q_proj", w.linear(prefix + ".q_proj", c.hiddenSize(), (long) heads * headDim, c.attentionBias()));
        addLinear("k_proj", w.linear(prefix + ".k_proj", c.hiddenSize(), (long) kvHeads * headDim, c.attentionBias()));
        addLinear("v_proj", w.linear(prefix + ".v_proj", c.hiddenSize(), (long) kvHeads * headDim, c.attentionBias()));
        addLinear("o_proj", w.linear(prefix + ".o_proj", (long) heads * headDim, c.hiddenSize(), c.outputBias()));
        addBmm("bmm1", Bmm.plain(prefix + ".bmm1"));
        addBmm("bmm2", Bmm.plain(prefix + ".bmm2"));
    }

    /**
     * @param x    {@code [B, T, hidden]}
     * @param mask additive {@code [T, T]}
     */
    NDArray forward(NDArray x, RotaryEmbedding rope, NDArray mask) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        NDArray q = linear("q_proj", x).reshape(b, t, heads, headDim).transpose(0, 2, 1, 3);
        NDArray k = linear("k_proj", x).reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3);
        NDArray v = linear("v_proj", x).reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3);
        NDArray o = Attention.scaledDotProduct(rope.apply(q), rope.apply(k), v, mask, (float) (1.0 / Math.sqrt(headDim)), bmm("bmm1"), bmm("bmm2"));
        return linear("o_proj", o.transpose(0, 2, 1, 3).reshape(b, t, (long) heads * headDim));
    }
}
