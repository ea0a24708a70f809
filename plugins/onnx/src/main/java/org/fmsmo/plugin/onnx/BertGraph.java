package org.fmsmo.plugin.onnx;

import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.BertSpec;
import org.fmsmo.api.export.ExportModel;
import org.fmsmo.api.export.ExportSource;
import org.fmsmo.plugin.onnx.OnnxGraph.Attr;

/**
 * A BERT encoder ({@code BertModel}: embeddings, post-norm blocks, exact GELU) as an ONNX graph
 * computing what fmsmo's quantized model computes, with inputs {@code input_ids} and
 * {@code attention_mask} ([batch, sequence], int64) and output {@code last_hidden_state}; each
 * linear as {@link LinearOps} writes it.
 */
final class BertGraph {

    private final ExportSource src;
    private final BertSpec c;
    private final OnnxGraph g;
    private final String prefix;
    final LinearOps linears;

    /** @param external where the weights go as they are made; null to keep them in the graph */
    BertGraph(ExportSource src, BertSpec c, ExternalData external) {
        this.src = src;
        this.c = c;
        this.g = new OnnxGraph(external);
        this.prefix = src.parameterNames().contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        this.linears = new LinearOps(g, LinearOps.Layers.of(src));
    }

    static void check(ExportModel src) {
        if (!(src.architecture() instanceof BertSpec c)) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": model_type '" + src.config().modelType()
                    + "'; the ONNX exporter writes BERT encoders (model_type bert)");
        }
        if (c.paddingIdx() >= 0) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": position ids counted from the padding index (RoBERTa)"
                    + " are not exported yet; BERT's 0..T-1 are");
        }
    }

    /** The graph, its weights as initializers: made into a model by {@link OnnxGraph#modelProto}. */
    OnnxGraph build() {
        int h = c.hiddenSize();
        String ids = g.input("input_ids", OnnxGraph.INT64, "batch", "sequence");
        String mask = g.input("attention_mask", OnnxGraph.INT64, "batch", "sequence");
        // embeddings: word + position (0..T-1) + token type 0, then LayerNorm
        String words = g.op("Gather", List.of(param("embeddings.word_embeddings.weight", c.vocabSize(), h), ids));
        String length = g.op("Gather", List.of(g.op("Shape", List.of(ids)), g.longScalar(1)), Attr.i("axis", 0));
        String positions = g.op("Range", List.of(g.longScalar(0), length, g.longScalar(1)));
        String pos = g.op("Gather", List.of(param("embeddings.position_embeddings.weight", c.maxPositions(), h), positions));
        float[] types = src.floats(prefix + "embeddings.token_type_embeddings.weight");
        String type0 = g.floats("token_type_0", new long[] {h}, java.util.Arrays.copyOf(types, h));
        String x = layerNorm(g.op("Add", List.of(g.op("Add", List.of(words, pos)), type0)), "embeddings.LayerNorm");
        // additive mask [B, 1, 1, T]: 0 for tokens, −FLT_MAX for padding, as fmsmo's
        String keep = g.op("Cast", List.of(mask), Attr.i("to", OnnxGraph.FLOAT));
        String additive = g.op("Mul", List.of(g.op("Sub", List.of(g.scalar(1f), keep)), g.scalar(-Float.MAX_VALUE)));
        String bias = g.op("Unsqueeze", List.of(additive, g.longs(1, 2)));
        for (int i = 0; i < c.numLayers(); i++) {
            x = block(x, bias, "encoder.layer." + i);
        }
        g.output(g.named("last_hidden_state", "", "Identity", List.of(x)), OnnxGraph.FLOAT, "batch", "sequence", (long) h);
        return g;
    }

    private String block(String x, String mask, String p) {
        int h = c.hiddenSize();
        int heads = c.numHeads();
        long hd = h / heads;
        String q = split(linear(x, p + ".attention.self.query", h, h), heads, hd, false);
        String k = split(linear(x, p + ".attention.self.key", h, h), heads, hd, true);
        String v = split(linear(x, p + ".attention.self.value", h, h), heads, hd, false);
        String scores = g.op("Add", List.of(g.op("Mul", List.of(g.op("MatMul", List.of(q, k)), g.scalar((float) (1.0 / Math.sqrt(hd))))), mask));
        String probs = g.op("Softmax", List.of(scores), Attr.i("axis", -1));
        String context = g.op("Reshape", List.of(g.op("Transpose", List.of(g.op("MatMul", List.of(probs, v))), Attr.ints("perm", 0, 2, 1, 3)),
                g.longs(0, 0, h)));
        String attended = linear(context, p + ".attention.output.dense", h, h);
        String hidden = layerNorm(g.op("Add", List.of(attended, x)), p + ".attention.output.LayerNorm");
        String inner = linear(hidden, p + ".intermediate.dense", h, c.intermediateSize());
        // exact GELU: x·½·(1 + erf(x/√2))
        String erf = g.op("Erf", List.of(g.op("Div", List.of(inner, g.scalar((float) Math.sqrt(2))))));
        String act = g.op("Mul", List.of(g.op("Mul", List.of(inner, g.scalar(0.5f))), g.op("Add", List.of(erf, g.scalar(1f)))));
        String out = linear(act, p + ".output.dense", c.intermediateSize(), h);
        return layerNorm(g.op("Add", List.of(out, hidden)), p + ".output.LayerNorm");
    }

    /** [B, T, H] → [B, heads, T, hd], or [B, heads, hd, T] for keys. */
    private String split(String x, int heads, long hd, boolean keys) {
        String r = g.op("Reshape", List.of(x, g.longs(0, 0, heads, hd)));
        return g.op("Transpose", List.of(r), keys ? Attr.ints("perm", 0, 2, 3, 1) : Attr.ints("perm", 0, 2, 1, 3));
    }

    private String layerNorm(String x, String name) {
        int h = c.hiddenSize();
        return g.op("LayerNormalization", List.of(x, param(name + ".weight", h), param(name + ".bias", h)),
                Attr.i("axis", -1), Attr.f("epsilon", (float) c.layerNormEps()));
    }

    private String param(String name, long... dims) {
        return g.floats(prefix + name, dims, src.floats(prefix + name));
    }

    private String linear(String x, String layer, int in, int out) {
        return linears.linear(x, prefix + layer, in, out);
    }
}
