package org.fmsmo.plugin.onnx;

import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.RopeParameters;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.export.ExportModel;
import org.fmsmo.api.export.ExportSource;
import org.fmsmo.plugin.onnx.OnnxGraph.Attr;

/**
 * A Llama-family decoder ({@code LlamaForCausalLM}: RMSNorm, rotary embeddings, grouped-query
 * attention, SwiGLU) as an ONNX graph from {@code input_ids} ([batch, sequence], int64) to
 * {@code logits} ([batch, sequence, vocabulary]), each linear as {@link LinearOps} writes it
 * (W4 as {@code MatMulNBits}), with a KV cache as Hugging Face Optimum names it: inputs
 * {@code past_key_values.<layer>.key|value} ({@code [batch, kv_heads, past_sequence, head_dim]},
 * keys after the rotary embedding; length 0 on the first call) and outputs
 * {@code present.<layer>.key|value}, the past with the new tokens appended, for the next call. The
 * new tokens take positions {@code past…past+T−1}. Rotary tables ({@code cos}, {@code sin} of
 * {@code [max_position_embeddings, head_dim]}) and the causal mask are initializers sliced to those
 * positions; key and value heads are broadcast to the query heads they serve.
 */
final class LlamaGraph {

    private final ExportSource src;
    private final TransformerSpec t;
    private final OnnxGraph g;
    final LinearOps linears;
    /** The {@code present.<layer>.key|value} outputs, in layer order. */
    private final List<String> present = new java.util.ArrayList<>();

    /** @param external where the weights go as they are made; null to keep them in the graph */
    LlamaGraph(ExportSource src, TransformerSpec t, ExternalData external) {
        this.src = src;
        this.t = t;
        this.g = new OnnxGraph(external);
        this.linears = new LinearOps(g, LinearOps.Layers.of(src));
    }

    /** What the graph needs of the architecture, checked before the weights are loaded. */
    static void checkArchitecture(ExportModel src, TransformerSpec t) {
        String where = src.location();
        if (t.encoder() != null || t.moe() != null || t.norm() != TransformerSpec.Norm.RMS || t.layout() != TransformerSpec.Layout.PRE_NORM
                || t.activation() != TransformerSpec.Activation.SILU || !t.gatedMlp() || t.attention().qkNorm() || t.attention().softcap() != 0
                || !t.scaling().equals(TransformerSpec.Scaling.NONE) || t.fusedQkv() || t.fusedGateUp() || t.transposedWeights()
                || t.positions() != TransformerSpec.Positions.ROTARY) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": model_type '" + src.config().modelType() + "' is not a plain Llama decoder"
                    + " (RMSNorm, pre-norm, SwiGLU, rotary, separate q/k/v and gate/up, no q/k norm, soft cap or scaling), which the ONNX exporter writes");
        }
        for (TransformerSpec.Layer l : t.layers()) {
            RopeParameters r = l.rope();
            if (l.slidingWindow() > 0 || !List.of("default", "linear", "llama3").contains(r.type()) || r.partialRotaryFactor() != 1) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": rope type '" + r.type() + "' or a sliding window;"
                        + " the ONNX exporter writes default, linear and llama3 rotary embeddings over whole heads, full attention");
            }
        }
    }

    static void checkNames(ExportSource src) {
        if (!src.parameterNames().contains("model.layers.0.self_attn.q_proj.weight")) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": the checkpoint does not use Llama's parameter names"
                    + " (model.layers.N.self_attn.q_proj)");
        }
    }

    /** The graph, its weights as initializers: made into a model by {@link OnnxGraph#modelProto}. */
    OnnxGraph build() {
        int h = t.hiddenSize();
        int hd = t.headDim();
        String ids = g.input("input_ids", OnnxGraph.INT64, "batch", "sequence");
        String[][] cache = new String[t.layers().size()][];
        for (int i = 0; i < cache.length; i++) {
            cache[i] = new String[] {g.input("past_key_values." + i + ".key", OnnxGraph.FLOAT, "batch", (long) t.numKvHeads(), "past_sequence", (long) hd),
                    g.input("past_key_values." + i + ".value", OnnxGraph.FLOAT, "batch", (long) t.numKvHeads(), "past_sequence", (long) hd)};
        }
        String x = g.op("Gather", List.of(param("model.embed_tokens.weight", t.vocabSize(), h), ids));
        // the new tokens sit at positions past..past+T−1: they select rows of the rotary tables, and
        // each sees the keys at positions up to its own
        String past = g.op("Gather", List.of(g.op("Shape", List.of(cache[0][0])), g.longScalar(2)), Attr.i("axis", 0));
        String length = g.op("Gather", List.of(g.op("Shape", List.of(ids)), g.longScalar(1)), Attr.i("axis", 0));
        String total = g.op("Add", List.of(past, length));
        String positions = g.op("Range", List.of(past, total, g.longScalar(1)));
        float[][] table = rotaryTables(t.layers().getFirst().rope(), hd, t.maxPositions());
        String cos = g.op("Gather", List.of(g.floats("rope_cos", new long[] {t.maxPositions(), hd}, table[0]), positions));
        String sin = g.op("Gather", List.of(g.floats("rope_sin", new long[] {t.maxPositions(), hd}, table[1]), positions));
        String mask = causalMask(positions, total);
        for (int i = 0; i < t.layers().size(); i++) {
            x = block(x, "model.layers." + i, cos, sin, mask, cache[i], i);
        }
        x = rmsNorm(x, "model.norm.weight");
        String head = src.parameterNames().contains("lm_head.weight") ? "lm_head" : null;
        String logits;
        if (head != null) {
            logits = linears.linear(x, head, h, t.vocabSize());
        } else { // tied: the embedding matrix transposed
            logits = g.op("MatMul", List.of(x, g.op("Transpose", List.of(param("model.embed_tokens.weight", t.vocabSize(), h)), Attr.ints("perm", 1, 0))));
        }
        g.output(g.named("logits", "", "Identity", List.of(logits)), OnnxGraph.FLOAT, "batch", "sequence", (long) t.vocabSize());
        for (String cached : present) { // after the logits, as Optimum orders them
            g.output(cached, OnnxGraph.FLOAT, "batch", (long) t.numKvHeads(), "total_sequence", (long) t.headDim());
        }
        return g;
    }

    /**
     * One decoder block. {@code past}: this block's cached keys and values ({@code [B, kv, P, hd]},
     * keys already rotated); the new ones are appended to them and the results are the graph's
     * {@code present.<layer>.key/value} outputs.
     */
    private String block(String x, String p, String cos, String sin, String mask, String[] past, int layer) {
        int h = t.hiddenSize();
        int hd = t.headDim();
        int heads = t.numHeads();
        int kv = t.numKvHeads();
        String n = rmsNorm(x, p + ".input_layernorm.weight");
        String q = rotate(heads(linears.linear(n, p + ".self_attn.q_proj", h, heads * hd), heads, hd), cos, sin, hd);
        String k = rotate(heads(linears.linear(n, p + ".self_attn.k_proj", h, kv * hd), kv, hd), cos, sin, hd);
        String v = heads(linears.linear(n, p + ".self_attn.v_proj", h, kv * hd), kv, hd);
        k = g.named("present." + layer + ".key", "", "Concat", List.of(past[0], k), Attr.i("axis", 2));
        v = g.named("present." + layer + ".value", "", "Concat", List.of(past[1], v), Attr.i("axis", 2));
        present.add(k);
        present.add(v);
        if (kv != heads) { // each key/value head serves heads/kv query heads: [B, kv, T, hd] → [B, heads, T, hd]
            k = repeat(k, heads / kv, heads, hd);
            v = repeat(v, heads / kv, heads, hd);
        }
        String scores = g.op("MatMul", List.of(q, g.op("Transpose", List.of(k), Attr.ints("perm", 0, 1, 3, 2))));
        scores = g.op("Add", List.of(g.op("Mul", List.of(scores, g.scalar((float) t.attention().scale()))), mask));
        String probs = g.op("Softmax", List.of(scores), Attr.i("axis", -1));
        String context = g.op("Reshape", List.of(g.op("Transpose", List.of(g.op("MatMul", List.of(probs, v))), Attr.ints("perm", 0, 2, 1, 3)),
                g.longs(0, 0, (long) heads * hd)));
        String hidden = g.op("Add", List.of(x, linears.linear(context, p + ".self_attn.o_proj", heads * hd, h)));
        String m = rmsNorm(hidden, p + ".post_attention_layernorm.weight");
        String gate = linears.linear(m, p + ".mlp.gate_proj", h, t.intermediateSize());
        String up = linears.linear(m, p + ".mlp.up_proj", h, t.intermediateSize());
        String act = g.op("Mul", List.of(g.op("Mul", List.of(gate, g.op("Sigmoid", List.of(gate)))), up));
        return g.op("Add", List.of(hidden, linears.linear(act, p + ".mlp.down_proj", t.intermediateSize(), h)));
    }

    /** [B, T, n·hd] → [B, n, T, hd]. */
    private String heads(String x, int n, int hd) {
        return g.op("Transpose", List.of(g.op("Reshape", List.of(x, g.longs(0, 0, n, hd)))), Attr.ints("perm", 0, 2, 1, 3));
    }

    /** [B, kv, T, hd] → [B, kv·rep, T, hd], each head repeated rep times in place (as HF's repeat_kv). */
    private String repeat(String x, int rep, int heads, int hd) {
        String wide = g.op("Expand", List.of(g.op("Unsqueeze", List.of(x, g.longs(2))), g.longs(1, 1, rep, 1, 1)));
        return g.op("Reshape", List.of(wide, g.longs(0, heads, -1, hd)));
    }

    /** HF's rotate-half form: {@code x·cos + rotate_half(x)·sin}, {@code rotate_half(x) = [−x₂, x₁]}. */
    private String rotate(String x, String cos, String sin, int hd) {
        String x1 = g.op("Slice", List.of(x, g.longs(0), g.longs(hd / 2), g.longs(-1)));
        String x2 = g.op("Slice", List.of(x, g.longs(hd / 2), g.longs(hd), g.longs(-1)));
        String rotated = g.op("Concat", List.of(g.op("Neg", List.of(x2)), x1), Attr.i("axis", -1));
        return g.op("Add", List.of(g.op("Mul", List.of(x, cos)), g.op("Mul", List.of(rotated, sin))));
    }

    /** {@code x · (mean(x²) + ε)^−½ · w}, as fmsmo and Hugging Face compute it. */
    private String rmsNorm(String x, String weight) {
        String ms = g.op("ReduceMean", List.of(g.op("Mul", List.of(x, x)), g.longs(-1)), Attr.i("keepdims", 1));
        String inv = g.op("Reciprocal", List.of(g.op("Sqrt", List.of(g.op("Add", List.of(ms, g.scalar((float) t.normEps())))))));
        return g.op("Mul", List.of(g.op("Mul", List.of(x, inv)), param(weight, t.hiddenSize())));
    }

    /** A float parameter as an initializer, added once however often it is used (a tied head reads the embedding table). */
    private String param(String name, long... dims) {
        return g.has(name) ? name : g.floats(name, dims, src.floats(name));
    }

    /**
     * The additive causal mask {@code [T, past+T]}: 0 where the key's position is at most the
     * query's, −∞ after it. Computed in the graph from the positions: a table over every position
     * pair would be max_position_embeddings² floats, 64 GiB at Llama 3's 131072.
     */
    private String causalMask(String queryPositions, String total) {
        String keys = g.op("Range", List.of(g.longScalar(0), total, g.longScalar(1)));
        String later = g.op("Greater", List.of(g.op("Unsqueeze", List.of(keys, g.longs(0))), g.op("Unsqueeze", List.of(queryPositions, g.longs(1)))));
        return g.op("Where", List.of(later, g.scalar(Float.NEGATIVE_INFINITY), g.scalar(0f)));
    }

    /**
     * cos and sin of {@code position · f_i} for i < hd/2, each repeated over both halves (HF's
     * {@code cat(freqs, freqs)}), with the inverse frequencies {@code f} the host's model uses
     * (its type's scaling applied: linear, Llama 3's).
     */
    static float[][] rotaryTables(RopeParameters rope, int hd, int positions) {
        float[] frequencies = rope.inverseFrequencies(hd);
        float[] cos = new float[Math.multiplyExact(positions, hd)];
        float[] sin = new float[cos.length];
        for (int i = 0; i < hd / 2; i++) {
            float inv = frequencies[i];
            for (int p = 0; p < positions; p++) { // the float32 position times the float32 frequency, as torch
                float angle = (float) p * inv;
                cos[p * hd + i] = (float) Math.cos(angle);
                cos[p * hd + i + hd / 2] = cos[p * hd + i];
                sin[p * hd + i] = (float) Math.sin(angle);
                sin[p * hd + i + hd / 2] = sin[p * hd + i];
            }
        }
        return new float[][] {cos, sin};
    }
}
