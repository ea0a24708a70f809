package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Bmm;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Scopes;
import org.fmsmo.core.nn.Normalization;
import org.fmsmo.core.nn.RotaryEmbedding;
import org.fmsmo.core.nn.Trace;
import org.fmsmo.core.nn.Weights;

/**
 * Grouped-query self-attention, with rotary positions unless the model learns them: separate or
 * fused q/k/v projections, optional per-head q/k norms, a soft cap and a sliding window.
 */
final class SelfAttention extends Module {

    private final TransformerSpec spec;
    private final int window;
    private final RotaryEmbedding rope;
    private final String q;
    private final String k;
    private final String v;
    private final String o;
    private final String qkv;
    private final Normalization qNorm;
    private final Normalization kNorm;

    SelfAttention(TransformerSpec s, int layer, Weights w, String prefix, RotaryEmbedding rope) {
        this.spec = s;
        this.window = s.layers().get(layer).slidingWindow();
        this.rope = rope;
        TransformerSpec.Names n = s.names();
        long h = s.hiddenSize();
        long qDim = (long) s.numHeads() * s.headDim();
        long kvDim = (long) s.numKvHeads() * s.headDim();
        boolean bias = s.attention().qkvBias();
        if (s.fusedQkv()) {
            this.qkv = n.of(Part.QKV);
            this.q = this.k = this.v = null;
            addLinear(qkv, TransformerBlock.linear(s, w, prefix + "." + qkv, h, qDim + 2 * kvDim, bias));
        } else {
            this.qkv = null;
            this.q = n.of(Part.Q);
            this.k = n.of(Part.K);
            this.v = n.of(Part.V);
            addLinear(q, TransformerBlock.linear(s, w, prefix + "." + q, h, qDim, bias));
            addLinear(k, TransformerBlock.linear(s, w, prefix + "." + k, h, kvDim, bias));
            addLinear(v, TransformerBlock.linear(s, w, prefix + "." + v, h, kvDim, bias));
        }
        this.o = n.of(Part.O);
        addLinear(o, TransformerBlock.linear(s, w, prefix + "." + o, qDim, h, s.attention().outputBias()));
        if (s.attention().qkNorm()) {
            this.qNorm = (Normalization) addModule(n.of(Part.Q_NORM), TransformerBlock.norm(s, w, prefix + "." + n.of(Part.Q_NORM), s.headDim()));
            this.kNorm = (Normalization) addModule(n.of(Part.K_NORM), TransformerBlock.norm(s, w, prefix + "." + n.of(Part.K_NORM), s.headDim()));
        } else {
            this.qNorm = this.kNorm = null;
        }
        addBmm("bmm1", Bmm.plain(prefix + ".bmm1"));
        addBmm("bmm2", Bmm.plain(prefix + ".bmm2"));
    }

    /**
     * @param x    {@code [B, T, hidden]}
     * @param mask a decoder's causal {@code [T, T]} mask, or an encoder's padding mask {@code [B, 1, 1, T]}; a sliding
     *             layer narrows it to its window
     */
    NDArray forward(NDArray x, NDArray mask) {
        // Its own scope: q, k, v, the rotary halves and the scores are freed once the context exists.
        return linear(o, step("context", () -> Scopes.step(() -> context(x, mask))));
    }

    /** o_proj's input: the heads' attention outputs side by side, {@code [B, T, heads·d]}. */
    private NDArray context(NDArray x, NDArray mask) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int heads = spec.numHeads();
        int kvHeads = spec.numKvHeads();
        int d = spec.headDim();
        NDArray qx;
        NDArray kx;
        NDArray vx;
        if (qkv != null) {
            NDArray all = linear(qkv, x);
            long qDim = (long) heads * d;
            long kvDim = (long) kvHeads * d;
            qx = all.get(new NDIndex("..., 0:{}", qDim));
            kx = all.get(new NDIndex("..., {}:{}", qDim, qDim + kvDim));
            vx = all.get(new NDIndex("..., {}:", qDim + kvDim));
        } else {
            qx = linear(q, x);
            kx = linear(k, x);
            vx = linear(v, x);
        }
        NDArray qh = qx.reshape(b, t, heads, d);
        NDArray kh = kx.reshape(b, t, kvHeads, d);
        if (qNorm != null) {
            qh = qNorm.forward(qh);
            kh = kNorm.forward(kh);
        }
        qh = qh.transpose(0, 2, 1, 3);
        kh = kh.transpose(0, 2, 1, 3);
        NDArray vh = vx.reshape(b, t, kvHeads, d).transpose(0, 2, 1, 3);
        NDArray m = mask;
        if (window > 0 && spec.encoder() != null) {
            m = mask.minimum(Attention.bidirectionalWindowMask(x.getManager(), (int) t, window)); // both 0 or −max: no overflow
        } else if (window > 0 && t > window) {
            m = Attention.slidingWindowMask(x.getManager(), (int) t, window);
        }
        if (rope != null) {
            qh = rope.apply(qh);
            kh = rope.apply(kh);
        }
        NDArray out = Attention.scaledDotProduct(qh, kh, vh, m, (float) spec.attention().scale(),
                (float) spec.attention().softcap(), bmm("bmm1"), bmm("bmm2"));
        NDArray merged = out.transpose(0, 2, 1, 3).reshape(b, t, (long) heads * d);
        if (qkv == null && heads == kvHeads) {
            // Channel c of o_proj's input mixes v_proj's channel c over tokens: a per-channel scale of
            // it can be folded into v_proj's rows. Grouped heads repeat v's channels, so there it cannot.
            Trace.call("channelwise", path(), merged, vx);
        }
        return merged;
    }

    // For ResidualRotation: full layer names.

    /** The projections that read the block's normed input: q, k, v (or the fused qkv). */
    java.util.List<String> inputLinears() {
        return qkv != null ? java.util.List.of(path() + "." + qkv) : java.util.List.of(path() + "." + q, path() + "." + k, path() + "." + v);
    }

    /** The output projection, which writes the residual stream. */
    String outputLinear() {
        return path() + "." + o;
    }

    /** The value projection; null when q, k and v are one fused projection. */
    String valueLinear() {
        return qkv != null ? null : path() + "." + v;
    }
}
