package org.fmsmo.plugin.onnx;

import java.util.List;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.BertSpec;
import org.fmsmo.api.export.ExportSource;
import org.fmsmo.api.format.InputQuantization;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.plugin.onnx.OnnxGraph.Attr;

/**
 * A BERT encoder ({@code BertModel}: embeddings, post-norm blocks, exact GELU) as an ONNX graph
 * computing what fmsmo's quantized model computes, with inputs {@code input_ids} and
 * {@code attention_mask} ([batch, sequence], int64) and output {@code last_hidden_state}. Each
 * linear becomes, by what the method left:
 * <ul>
 *   <li>W8A8, int8 per-channel weights with dynamic per-token symmetric int8 inputs:
 *       {@code s = max(max|x|, 1e-5)/127}, {@code x_q = round(x/s) + 128} as uint8, then
 *       {@code MatMulInteger} (zero point 128) and the int32 product rescaled by {@code s·w_scale};</li>
 *   <li>W4, symmetric int4 codes in groups (a power of two ≥ 16 dividing the input width):
 *       {@code com.microsoft.MatMulNBits}, codes + 8 packed low nibble first, one scale per group,
 *       the default zero point 8;</li>
 *   <li>anything else: {@code MatMul} with the weight the model computes with (dequantized), the
 *       input fake-quantized per token when the method quantizes it.</li>
 * </ul>
 */
final class BertGraph {

    private final ExportSource src;
    private final BertSpec c;
    private final OnnxGraph g = new OnnxGraph();
    private final String prefix;
    int integer;
    int nbits;
    int floats;

    BertGraph(ExportSource src, BertSpec c) {
        this.src = src;
        this.c = c;
        this.prefix = src.parameterNames().contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
    }

    static void check(ExportSource src) {
        if (!(src.architecture() instanceof BertSpec c)) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": model_type '" + src.config().modelType()
                    + "'; the ONNX exporter writes BERT encoders (model_type bert)");
        }
        if (c.paddingIdx() >= 0) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": position ids counted from the padding index (RoBERTa)"
                    + " are not exported yet; BERT's 0..T-1 are");
        }
    }

    byte[] build() {
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
        return g.model("fmsmo-bert");
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
        String full = prefix + layer;
        Optional<QuantizedTensor> codes = src.codes(full);
        Optional<InputQuantization> input = src.inputQuantization(full);
        if (input.isPresent() && !perTokenInt8(input.get().spec())) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": layer " + full + " quantizes its input as " + input.get().spec()
                    + "; the ONNX exporter writes dynamic per-token symmetric INT8 inputs (or float ones)");
        }
        String y;
        if (codes.isPresent() && input.isPresent() && int8PerChannel(codes.get())) {
            y = w8a8(x, full, codes.get(), in, out);
            integer++;
        } else if (codes.isPresent() && int4Groups(codes.get(), in)) {
            y = matMulNBits(input.isPresent() ? fakeQuantize(x) : x, full, codes.get(), in, out);
            nbits++;
        } else {
            float[] w = src.floats(full + ".weight"); // the weight the model computes with, [out, in]
            y = g.op("MatMul", List.of(input.isPresent() ? fakeQuantize(x) : x, g.floats(full + ".weight_t", new long[] {in, out}, transpose(w, out, in))));
            floats++;
        }
        return g.op("Add", List.of(y, param(layer + ".bias", out)));
    }

    private static boolean perTokenInt8(QuantSpec s) {
        return s.type() == QuantType.INT && s.bits() == 8 && s.symmetric() && s.granularity() == Granularity.TOKEN;
    }

    private static boolean int8PerChannel(QuantizedTensor q) {
        QuantSpec s = q.spec();
        return s.type() == QuantType.INT && s.bits() == 8 && s.symmetric() && q.zeroPoint().isEmpty()
                && (s.granularity() == Granularity.CHANNEL || s.granularity() == Granularity.TENSOR);
    }

    private static boolean int4Groups(QuantizedTensor q, int in) {
        QuantSpec s = q.spec();
        int bs = s.groupSize();
        return s.type() == QuantType.INT && s.bits() == 4 && s.symmetric() && q.zeroPoint().isEmpty() && q.groupIndex().isEmpty()
                && s.granularity() == Granularity.GROUP && bs >= 16 && Integer.bitCount(bs) == 1 && in % bs == 0;
    }

    /** Per-token scale s = max(max|x|, 1e-5)/127 ([B, T, 1]) and the codes round(x/s). */
    private String[] perToken(String x) {
        String amax = g.op("ReduceMax", List.of(g.op("Abs", List.of(x))), Attr.ints("axes", -1), Attr.i("keepdims", 1));
        String s = g.op("Div", List.of(g.op("Max", List.of(amax, g.scalar(1e-5f))), g.scalar(127f)));
        return new String[] {s, g.op("Round", List.of(g.op("Div", List.of(x, s))))};
    }

    private String fakeQuantize(String x) {
        String[] sq = perToken(x);
        return g.op("Mul", List.of(sq[1], sq[0]));
    }

    private String w8a8(String x, String layer, QuantizedTensor q, int in, int out) {
        String[] sq = perToken(x);
        String u8 = g.op("Cast", List.of(g.op("Add", List.of(sq[1], g.scalar(128f)))), Attr.i("to", OnnxGraph.UINT8));
        byte[] codes = q.codes().toByteArray(); // int8 [out, in]
        // Weights go in as uint8 with zero point 128, not as int8: ONNX Runtime's u8×s8 kernels on x86
        // add pairs of products in int16 and saturate (the documented reason for reduce_range); u8×u8 widens first.
        byte[] t = new byte[codes.length];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                t[i * out + o] = (byte) (codes[o * in + i] + 128);
            }
        }
        String w = g.tensor(layer + ".weight_q", OnnxGraph.UINT8, new long[] {in, out}, t);
        String zp = g.tensor(layer + ".input_zero_point", OnnxGraph.UINT8, new long[0], new byte[] {(byte) 128});
        String wzp = g.tensor(layer + ".weight_zero_point", OnnxGraph.UINT8, new long[0], new byte[] {(byte) 128});
        String acc = g.op("MatMulInteger", List.of(u8, w, zp, wzp));
        float[] scale = q.scale().toFloatArray();
        float[] perColumn = scale.length == out ? scale : filled(out, scale[0]);
        String ws = g.floats(layer + ".weight_scale", new long[] {out}, perColumn);
        return g.op("Mul", List.of(g.op("Mul", List.of(g.op("Cast", List.of(acc), Attr.i("to", OnnxGraph.FLOAT)), sq[0])), ws));
    }

    private String matMulNBits(String x, String layer, QuantizedTensor q, int in, int out) {
        int bs = q.spec().groupSize();
        int blocks = in / bs;
        byte[] codes = q.codes().toByteArray(); // int8 in [−8, 7], [out, in]
        byte[] packed = new byte[out * in / 2];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i += 2) {
                int lo = codes[o * in + i] + 8;
                int hi = codes[o * in + i + 1] + 8;
                packed[(o * in + i) / 2] = (byte) (lo | (hi << 4));
            }
        }
        String b = g.tensor(layer + ".weight_nbits", OnnxGraph.UINT8, new long[] {out, blocks, bs / 2}, packed);
        String scales = g.floats(layer + ".weight_scales", new long[] {(long) out * blocks}, q.scale().toFloatArray());
        return g.node(OnnxGraph.MICROSOFT, "MatMulNBits", List.of(x, b, scales), Attr.i("K", in), Attr.i("N", out), Attr.i("bits", 4),
                Attr.i("block_size", bs));
    }

    private static float[] filled(int n, float v) {
        float[] f = new float[n];
        java.util.Arrays.fill(f, v);
        return f;
    }

    private static float[] transpose(float[] w, int rows, int cols) {
        float[] t = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) {
                t[k * rows + r] = w[r * cols + k];
            }
        }
        return t;
    }
}
