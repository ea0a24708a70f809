package org.fmsmo.plugin.onnx;

import java.util.List;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.export.ExportSource;
import org.fmsmo.api.format.InputQuantization;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.plugin.onnx.OnnxGraph.Attr;

/**
 * One linear layer as ONNX nodes, by what the method left:
 * <ul>
 *   <li>W8A8, int8 per-channel weights with dynamic per-token symmetric int8 inputs:
 *       {@code s = max(max|x|, 1e-5)/127}, {@code x_q = round(x/s) + 128} as uint8, then
 *       {@code MatMulInteger} against the weights as uint8 (both zero points 128) and the int32
 *       product rescaled by {@code s·w_scale};</li>
 *   <li>W8A8 with a static per-tensor INT8 input (calibrated scale and zero point): the input
 *       quantized as fmsmo's quantizer does it, then the same integer product;</li>
 *   <li>W4, symmetric int4 codes in groups (a power of two ≥ 16 dividing the input width):
 *       {@code com.microsoft.MatMulNBits}, codes + 8 packed low nibble first, one scale per group,
 *       the default zero point 8;</li>
 *   <li>FP8 e4m3 weights (per channel or tensor), with float, per-token or static per-tensor FP8
 *       inputs: QDQ with {@code float8e4m3fn} ({@link #fp8});</li>
 *   <li>anything else: {@code MatMul} with the weight the model computes with (dequantized), the
 *       input fake-quantized per token when the method quantizes it.</li>
 * </ul>
 * The bias, when the checkpoint has one ({@code layer.bias}), is added after.
 */
final class LinearOps {

    /** What the graph needs to know of a layer, by its full name: from an exported model, or from one frozen layer (the backend). */
    interface Layers {
        String location();

        Optional<QuantizedTensor> codes(String layer);

        Optional<InputQuantization> inputQuantization(String layer);

        Optional<FrozenLinear> frozenLayer(String layer);

        /** The weight the model computes with, or the bias; row-major. */
        float[] floats(String parameter);

        boolean has(String parameter);

        /** An exported model's layers. */
        static Layers of(ExportSource src) {
            return new Layers() {
                @Override
                public String location() {
                    return src.location();
                }

                @Override
                public Optional<QuantizedTensor> codes(String layer) {
                    return src.codes(layer);
                }

                @Override
                public Optional<InputQuantization> inputQuantization(String layer) {
                    return src.inputQuantization(layer);
                }

                @Override
                public Optional<FrozenLinear> frozenLayer(String layer) {
                    return src.frozenLayer(layer);
                }

                @Override
                public float[] floats(String parameter) {
                    return src.floats(parameter);
                }

                @Override
                public boolean has(String parameter) {
                    return src.parameterNames().contains(parameter);
                }
            };
        }
    }

    private final OnnxGraph g;
    private final Layers src;
    int integer;
    int nbits;
    int floats;
    int fp8;

    /**
     * Integer weights as int8 (zero point 0) instead of uint8 (zero point 128). Exported files keep
     * uint8: ONNX Runtime's u8×s8 kernels on x86 without VNNI add pairs of products in int16 and
     * saturate. With VNNI ({@code vpdpbusd} sums four u8×s8 products into int32) u8×s8 is exact and
     * is ONNX Runtime's fast path, so the backend, which knows the CPU it runs on, chooses it there.
     */
    private final boolean signedWeights;
    /** The input is {@code [rows, in]} (the backend's one-layer graph), which lets a per-token scale be a QuantizeLinear axis. */
    private final boolean rowsInput;

    LinearOps(OnnxGraph g, Layers src) {
        this(g, src, false, false);
    }

    LinearOps(OnnxGraph g, Layers src, boolean signedWeights, boolean rowsInput) {
        this.g = g;
        this.src = src;
        this.signedWeights = signedWeights;
        this.rowsInput = rowsInput;
    }

    /** {@code x·Wᵀ + b} for the layer of this full name ({@code model.layers.0.mlp.up_proj}). */
    String linear(String x, String full, int in, int out) {
        Optional<QuantizedTensor> codes = src.codes(full);
        Optional<InputQuantization> input = src.inputQuantization(full);
        Optional<FrozenLinear> frozen = src.frozenLayer(full);
        String y;
        if (codes.isPresent() && codes.get().spec().type() == QuantType.FP8_E4M3) {
            y = fp8(x, full, codes.get(), input.map(InputQuantization::spec).orElse(null), frozen, in, out);
            fp8++;
            return withBias(y, full, out);
        }
        boolean staticInput = input.isPresent() && staticInt8(input.get().spec()) && frozen.isPresent() && frozen.get().inputScale() != null;
        if (input.isPresent() && !perTokenInt8(input.get().spec()) && !staticInput) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": layer " + full + " quantizes its input as " + input.get().spec()
                    + "; the ONNX exporter writes INT8 inputs, dynamic per token or static per tensor with a calibrated scale (or float ones)");
        }
        if (staticInput && codes.isPresent() && int8PerChannel(codes.get())) {
            y = staticW8a8(x, full, frozen.get(), in, out);
            integer++;
        } else if (staticInput) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": layer " + full + " has a static INT8 input and weights "
                    + codes.map(c -> c.spec().toString()).orElse("in float") + "; the ONNX exporter pairs static inputs with INT8 per-channel weights");
        } else if (codes.isPresent() && input.isPresent() && int8PerChannel(codes.get())) {
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
        return withBias(y, full, out);
    }

    /** {@code y + b} when the checkpoint has the layer's bias ({@code layer.bias}), else {@code y}. */
    private String withBias(String y, String layer, int out) {
        if (!src.has(layer + ".bias")) {
            return y;
        }
        return g.op("Add", List.of(y, g.floats(layer + ".bias", new long[] {out}, src.floats(layer + ".bias"))));
    }

    private static boolean perTokenInt8(QuantSpec s) {
        return s.type() == QuantType.INT && s.bits() == 8 && s.symmetric() && s.granularity() == Granularity.TOKEN;
    }

    private static boolean staticInt8(QuantSpec s) {
        return s.type() == QuantType.INT && s.bits() == 8 && s.granularity() == Granularity.TENSOR;
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
        String s = tokenScale(x, true);
        return new String[] {s, g.op("Round", List.of(g.op("Div", List.of(x, s))))};
    }

    /** Each token's INT8 scale {@code max(max|x|, 1e-5)/127}, its last axis kept as 1 or dropped. */
    private String tokenScale(String x, boolean keepDims) {
        String amax = g.op("ReduceMax", List.of(g.op("Abs", List.of(x)), g.longs(-1)), Attr.i("keepdims", keepDims ? 1 : 0));
        return g.op("Div", List.of(g.op("Max", List.of(amax, g.scalar(1e-5f))), g.scalar(127f)));
    }

    private String fakeQuantize(String x) {
        String[] sq = perToken(x);
        return g.op("Mul", List.of(sq[1], sq[0]));
    }

    private String w8a8(String x, String layer, QuantizedTensor q, int in, int out) {
        if (rowsInput) {
            return w8a8Rows(x, layer, q, in, out);
        }
        String[] sq = perToken(x);
        String u8 = g.op("Cast", List.of(g.op("Add", List.of(sq[1], g.scalar(128f)))), Attr.i("to", OnnxGraph.UINT8));
        // Weights go in as uint8 with zero point 128, not as int8: ONNX Runtime's u8×s8 kernels on x86 without
        // VNNI add pairs of products in int16 and saturate (the documented reason for reduce_range); u8×u8 widens first.
        String zp = g.tensor(layer + ".input_zero_point", OnnxGraph.UINT8, new long[0], new byte[] {(byte) 128});
        String acc = g.op("MatMulInteger", List.of(u8, weights(layer, q, in, out), zp, weightZeroPoint(layer)));
        return g.op("Mul", List.of(g.op("Mul", List.of(g.op("Cast", List.of(acc), Attr.i("to", OnnxGraph.FLOAT)), sq[0])), weightScale(layer, q, out)));
    }

    /**
     * The same W8A8 product for a {@code [rows, in]} input (the backend's one-layer graph), in fewer
     * passes over the data: one {@code QuantizeLinear} along axis 0 quantizes each row with its own
     * scale ({@code round(x/s) + 128}, half to even, as the spelled-out form), and
     * {@code com.microsoft.MatMulIntegerToFloat} applies the weight scales in its epilogue, so only
     * the per-row scale is left to multiply.
     */
    private String w8a8Rows(String x, String layer, QuantizedTensor q, int in, int out) {
        String s = tokenScale(x, false); // [rows]
        String zp = g.tensor(layer + ".input_zero_point", OnnxGraph.UINT8, new long[0], new byte[] {(byte) 128});
        String u8 = g.op("QuantizeLinear", List.of(x, s, g.op("Expand", List.of(zp, g.op("Shape", List.of(s))))), Attr.i("axis", 0));
        String y = g.node(OnnxGraph.MICROSOFT, "MatMulIntegerToFloat", List.of(u8, weights(layer, q, in, out), g.scalar(1f), weightScale(layer, q, out),
                zp, weightZeroPoint(layer)));
        return g.op("Mul", List.of(y, g.op("Unsqueeze", List.of(s, g.longs(1)))));
    }

    /**
     * Static per-tensor INT8 input with the calibrated scale and zero point, as fmsmo's quantizer
     * computes it: asymmetric {@code clip(round(x/s) + zp, 0, 255)} is {@code QuantizeLinear};
     * symmetric {@code clip(round(x/s), −127, 127)} is spelled out and shifted by 128 into uint8
     * (QuantizeLinear would saturate at −128). Then the integer product.
     */
    private String staticW8a8(String x, String layer, FrozenLinear f, int in, int out) {
        float s = f.inputScale().toFloatArray()[0];
        boolean asymmetric = f.inputZeroPoint() != null;
        int zp = asymmetric ? f.inputZeroPoint().toIntArray()[0] : 128;
        String scale = g.floats(layer + ".input_scale", new long[0], new float[] {s});
        String zero = g.tensor(layer + ".input_zero_point", OnnxGraph.UINT8, new long[0], new byte[] {(byte) zp});
        String u8 = asymmetric ? g.op("QuantizeLinear", List.of(x, scale, zero))
                : g.op("Cast", List.of(g.op("Add", List.of(g.op("Clip", List.of(g.op("Round", List.of(g.op("Div", List.of(x, scale)))), g.scalar(-127f),
                        g.scalar(127f))), g.scalar(128f)))), Attr.i("to", OnnxGraph.UINT8));
        String acc = g.op("MatMulInteger", List.of(u8, weights(layer, f.weight(), in, out), zero, weightZeroPoint(layer)));
        float[] ws = f.weight().scale().toFloatArray();
        float[] perColumn = new float[out];
        for (int o = 0; o < out; o++) {
            perColumn[o] = s * (ws.length == out ? ws[o] : ws[0]);
        }
        return g.op("Mul", List.of(g.op("Cast", List.of(acc), Attr.i("to", OnnxGraph.FLOAT)), g.floats(layer + ".output_scale", new long[] {out}, perColumn)));
    }

    /** int8 codes [out, in] as [in, out]: uint8 with zero point 128, or int8 ({@link #signedWeights}). */
    private String weights(String layer, QuantizedTensor q, int in, int out) {
        return g.tensor(layer + ".weight_q", signedWeights ? OnnxGraph.INT8 : OnnxGraph.UINT8, new long[] {in, out},
                transposedCodes(q, in, out, signedWeights ? 0 : 128));
    }

    /** The weight's one-byte codes {@code [out, in]} as {@code [in, out]} (MatMul's B), each plus {@code shift}. */
    private static byte[] transposedCodes(QuantizedTensor q, int in, int out, int shift) {
        byte[] codes = q.codes().toByteArray();
        byte[] t = new byte[codes.length];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                t[i * out + o] = (byte) (codes[o * in + i] + shift);
            }
        }
        return t;
    }

    /** The weight's scale per output column {@code [out]} (a per-tensor scale repeated). */
    private String weightScale(String layer, QuantizedTensor q, int out) {
        float[] scale = q.scale().toFloatArray();
        return g.floats(layer + ".weight_scale", new long[] {out}, scale.length == out ? scale : filled(out, scale[0]));
    }

    private String weightZeroPoint(String layer) {
        return g.tensor(layer + ".weight_zero_point", signedWeights ? OnnxGraph.INT8 : OnnxGraph.UINT8, new long[0],
                new byte[] {signedWeights ? 0 : (byte) 128});
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

    /**
     * FP8 e4m3 as QDQ (opset 19): the weight stored as {@code float8e4m3fn} codes, {@code [in, out]},
     * through {@code DequantizeLinear} with one scale per output column; the input, when the method
     * quantizes it, rounded through e4m3 as fmsmo's quantizer does — with the calibrated static
     * per-tensor scale or a per-token one ({@code s = max|x|/448}, 1 for an all-zero token), a
     * saturating {@code Cast} of {@code x/s} to {@code float8e4m3fn} and back, times {@code s} — then
     * a float {@code MatMul}. Both casts round half to even and saturate at ±448, as
     * {@code Fp8Format.encode(x, true)} does.
     */
    private String fp8(String x, String layer, QuantizedTensor q, QuantSpec input, Optional<FrozenLinear> frozen, int in, int out) {
        QuantSpec w = q.spec();
        if (w.granularity() != Granularity.CHANNEL && w.granularity() != Granularity.TENSOR) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": layer " + layer + " has FP8 weights " + w
                    + "; the ONNX exporter writes FP8 weights per channel or per tensor");
        }
        String xq = x;
        if (input != null) {
            if (input.type() != QuantType.FP8_E4M3) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, src.location() + ": layer " + layer + " pairs FP8 weights with inputs " + input
                        + "; the ONNX exporter writes FP8 e4m3 inputs (per token, or static per tensor)");
            }
            String scale;
            if (input.granularity() == Granularity.TOKEN) {
                String amax = g.op("ReduceMax", List.of(g.op("Abs", List.of(x)), g.longs(-1)), Attr.i("keepdims", 1));
                String s0 = g.op("Div", List.of(amax, g.scalar(448f)));
                scale = g.op("Add", List.of(s0, g.op("Cast", List.of(g.op("Equal", List.of(s0, g.scalar(0f)))), Attr.i("to", OnnxGraph.FLOAT))));
            } else {
                FrozenLinear f = frozen.filter(l -> l.inputScale() != null).orElseThrow(() -> new FmsmoException(ErrorCode.UNSUPPORTED_SPEC,
                        src.location() + ": layer " + layer + " has a static FP8 input without a calibrated scale"));
                scale = g.floats(layer + ".input_scale", new long[0], new float[] {f.inputScale().toFloatArray()[0]});
            }
            // QuantizeLinear + DequantizeLinear would say the same for a static scale, but ONNX Runtime 1.20's QDQ fusion turns
            // that pair before a MatMul into MatMulIntegerToFloat, which rejects float8 and fails the session: a Cast pair is not fused.
            String e4m3 = g.op("Cast", List.of(g.op("Div", List.of(x, scale))), Attr.i("to", OnnxGraph.FLOAT8E4M3FN), Attr.i("saturate", 1));
            xq = g.op("Mul", List.of(g.op("Cast", List.of(e4m3), Attr.i("to", OnnxGraph.FLOAT)), scale));
        }
        String wq = g.tensor(layer + ".weight_fp8", OnnxGraph.FLOAT8E4M3FN, new long[] {in, out}, transposedCodes(q, in, out, 0));
        String ws = weightScale(layer, q, out);
        String wzp = g.tensor(layer + ".weight_zero_point", OnnxGraph.FLOAT8E4M3FN, new long[] {out}, new byte[out]);
        String weight = g.op("DequantizeLinear", List.of(wq, ws, wzp), Attr.i("axis", 1));
        return g.op("MatMul", List.of(xq, weight));
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
