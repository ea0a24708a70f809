package org.fmsmo.core.model.bert;

import ai.djl.ndarray.NDArray;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Group;
import org.fmsmo.core.nn.LayerNorm;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Trace;
import org.fmsmo.core.nn.Weights;
import org.fmsmo.api.arch.BertSpec;

/**
 * One post-norm encoder block: {@code h = LN(x + attn(x)); out = LN(h + W₂·gelu(W₁·h))}, with
 * HF's module names ({@code attention.self.query}, {@code intermediate.dense} …).
 */
final class BertLayer extends Module {

    private final int heads;
    private final int headDim;
    private final LayerNorm attentionNorm;
    private final LayerNorm outputNorm;

    BertLayer(BertSpec c, Weights w, String p) {
        this.heads = c.numHeads();
        this.headDim = c.headDim();
        int h = c.hiddenSize();
        Group attention = addModule("attention", new Group());
        attention.add("self", new Group())
                .add("query", w.linear(p + ".attention.self.query", h, h, true))
                .add("key", w.linear(p + ".attention.self.key", h, h, true))
                .add("value", w.linear(p + ".attention.self.value", h, h, true))
                .addBmm("bmm1", p + ".attention.self.bmm1")
                .addBmm("bmm2", p + ".attention.self.bmm2");
        Group attentionOutput = attention.add("output", new Group()).add("dense", w.linear(p + ".attention.output.dense", h, h, true));
        this.attentionNorm = attentionOutput.add("LayerNorm", layerNorm(w, p + ".attention.output.LayerNorm", h, c.layerNormEps()));
        addModule("intermediate", new Group()).add("dense", w.linear(p + ".intermediate.dense", h, c.intermediateSize(), true));
        Group output = addModule("output", new Group()).add("dense", w.linear(p + ".output.dense", c.intermediateSize(), h, true));
        this.outputNorm = output.add("LayerNorm", layerNorm(w, p + ".output.LayerNorm", h, c.layerNormEps()));
    }

    static LayerNorm layerNorm(Weights w, String prefix, int size, double eps) {
        return new LayerNorm(w.take(prefix + ".weight", size), w.take(prefix + ".bias", size), eps);
    }

    /**
     * @param x    {@code [B, T, hidden]}
     * @param mask additive {@code [B, 1, 1, T]}
     */
    NDArray forward(NDArray x, NDArray mask) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        NDArray q = split(linear("attention.self.query", x), b, t);
        NDArray k = split(linear("attention.self.key", x), b, t);
        NDArray value = linear("attention.self.value", x);
        NDArray v = split(value, b, t);
        NDArray context = Attention.scaledDotProduct(q, k, v, mask, (float) (1.0 / Math.sqrt(headDim)),
                        bmm("attention.self.bmm1"), bmm("attention.self.bmm2"))
                .transpose(0, 2, 1, 3).reshape(b, t, (long) heads * headDim);
        Trace.call("channelwise", path(), context, value); // context channel c is a mix of value channel c over tokens
        NDArray attended = linear("attention.output.dense", context);
        NDArray h = attentionNorm.forward(Trace.call("add", path(), attended.add(x), attended, x));
        NDArray inner = linear("intermediate.dense", h);
        NDArray act = inner.getNDArrayInternal().gelu(); // exact GELU (erf), as HF's "gelu"
        NDArray out = linear("output.dense", act);
        return outputNorm.forward(Trace.call("add", path(), out.add(h), out, h));
    }

    private NDArray split(NDArray x, long b, long t) {
        return x.reshape(b, t, heads, headDim).transpose(0, 2, 1, 3);
    }
}
