package org.fmsmo.plugin.cpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.stream.IntStream;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;

/**
 * True integer execution of {@code y = x·Wᵀ + b}: the input is quantized to symmetric integers
 * (per token at run time, or with the calibrated per-tensor scale), multiplied with the integer
 * weight codes accumulating in int32, and each accumulator is rescaled by
 * {@code s_x[token] · s_w[row]}. The quantization of the input follows the same formula as the
 * simulated quantizer ({@code s = amax / qmax} in float, {@code round(x / s)} half to even), so
 * the only difference from simulation is float summation order.
 *
 * <p>A static asymmetric input ({@code q = clamp(round(x/s) + zp, 0, 2^b − 1)}) keeps the
 * integer GEMM on the unsigned codes and folds the zero point into a per-row correction,
 * {@code Σ_k (q_k − zp)·w_k = Σ_k q_k·w_k − zp·Σ_k w_k}, with {@code Σ_k w_k} computed once.
 */
final class Int8Linear implements PreparedLinear {

    private final int out;
    private final int in;
    private final byte[] weight;     // [out][in] row-major codes
    private final float[] weightScale; // [out]
    private final float[] bias;       // [out] or null
    private final QuantSpec inputSpec;
    private final float staticInputScale;
    private final int inputMax;
    /** Static asymmetric input: its zero point and the per-row weight sums; otherwise 0 and null. */
    private final int inputZeroPoint;
    private final int[] rowSums;

    Int8Linear(FrozenLinear layer) {
        Shape s = layer.weight().shape();
        out = Math.toIntExact(s.get(0));
        in = Math.toIntExact(s.get(1));
        weight = layer.weight().codes().toByteArray();
        float[] scales = layer.weight().scale().toFloatArray();
        weightScale = new float[out];
        for (int o = 0; o < out; o++) {
            weightScale[o] = scales.length == 1 ? scales[0] : scales[o];
        }
        bias = layer.bias() == null ? null : layer.bias().toFloatArray();
        inputSpec = layer.inputSpec();
        staticInputScale = inputSpec.granularity() == Granularity.TOKEN ? Float.NaN : layer.inputScale().toFloatArray()[0];
        boolean asymmetric = !inputSpec.symmetric();
        inputMax = asymmetric ? (1 << inputSpec.bits()) - 1 : (1 << (inputSpec.bits() - 1)) - 1;
        inputZeroPoint = asymmetric ? layer.inputZeroPoint().toIntArray()[0] : 0;
        rowSums = asymmetric ? new int[out] : null;
        if (asymmetric) {
            for (int o = 0; o < out; o++) {
                int sum = 0;
                for (int k = 0; k < in; k++) {
                    sum += weight[o * in + k];
                }
                rowSums[o] = sum;
            }
        }
    }

    @Override
    public NDArray forward(NDArray x) {
        Shape shape = x.getShape();
        int tokens = Math.toIntExact(shape.size() / in);
        float[] xs = x.toFloatArray();
        int[] qx = new int[xs.length];
        float[] sx = new float[tokens];
        quantizeInput(xs, tokens, qx, sx);
        int[] acc = accumulate(qx, tokens);
        float[] y = new float[tokens * out];
        for (int t = 0; t < tokens; t++) {
            for (int o = 0; o < out; o++) {
                float v = acc[t * out + o] * sx[t] * weightScale[o];
                y[t * out + o] = bias == null ? v : v + bias[o];
            }
        }
        long[] outShape = shape.getShape().clone();
        outShape[outShape.length - 1] = out;
        return x.getManager().create(y, new Shape(outShape));
    }

    /** Input quantization: symmetric per token or with the static scale, or asymmetric with the static scale and zero point. */
    void quantizeInput(float[] xs, int tokens, int[] qx, float[] sx) {
        for (int t = 0; t < tokens; t++) {
            float s = Float.isNaN(staticInputScale) ? tokenScale(xs, t * in, in, inputMax) : staticInputScale;
            sx[t] = s;
            int lo = rowSums != null ? 0 : -inputMax;
            for (int k = 0; k < in; k++) {
                // float division as the simulated quantizer does, then round half to even
                double q = Math.rint(xs[t * in + k] / s) + inputZeroPoint;
                qx[t * in + k] = (int) Math.max(lo, Math.min(inputMax, q));
            }
        }
    }

    /**
     * A token's dynamic scale, {@code max|x| / qmax} in float as the simulated per-token
     * quantizers compute it, 1 for an all-zero token.
     */
    static float tokenScale(float[] xs, int offset, int n, float qmax) {
        float amax = 0f;
        for (int k = 0; k < n; k++) {
            amax = Math.max(amax, Math.abs(xs[offset + k]));
        }
        float s = amax / qmax;
        return s == 0f ? 1f : s;
    }

    /**
     * int32 accumulators {@code acc[t][o] = Σ_k (qx[t][k] − zp)·w[o][k]}, tokens in parallel. The
     * codes go to the dot kernel as signed bytes: an asymmetric input's unsigned codes shifted by
     * −128, with the shift and the zero point put back through the row sums,
     * {@code Σ(q − zp)·w = Σ(q − 128)·w + (128 − zp)·Σw}.
     */
    int[] accumulate(int[] qx, int tokens) {
        int shift = rowSums == null ? 0 : 128;
        byte[] codes = new byte[qx.length];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = (byte) (qx[i] - shift);
        }
        Int8Dot kernel = Int8Dot.BEST;
        int[] acc = new int[tokens * out];
        IntStream.range(0, tokens).parallel().forEach(t -> {
            int xRow = t * in;
            for (int o = 0; o < out; o++) {
                int sum = kernel.dot(codes, xRow, weight, o * in, in);
                acc[t * out + o] = rowSums == null ? sum : sum + (shift - inputZeroPoint) * rowSums[o];
            }
        });
        return acc;
    }

    @Override
    public void close() {
        // plain Java arrays: nothing to free
    }
}
