package org.fmsmo.plugin.cpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.FloatBuffer;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.HostTensors;
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
 * <p>An asymmetric input ({@code q = clamp(round(x/s) + zp, 0, 2^b − 1)}), with the calibrated
 * scale and zero point (static) or with each token's own (dynamic: {@code s = (max − min)/(2^b − 1)}
 * over the token's range widened to contain 0, {@code zp = round(−min/s)}, as the simulated
 * {@code minmax} quantizer computes them), keeps the integer GEMM on the unsigned codes and folds
 * the zero point into a correction, {@code Σ_k (q_k − zp)·w_k = Σ_k q_k·w_k − zp·Σ_k w_k}, with the
 * row sums {@code Σ_k w_k} computed once.
 *
 * <p>With an outlier threshold (LLM.int8), the channels holding any {@code |x| ≥} it in the batch
 * are set to 0 before the input is quantized (so they neither set a token's scale nor enter the
 * integer product) and added afterwards in float against the dequantized weight columns.
 */
final class Int8Linear implements PreparedLinear {

    private final int out;
    private final int in;
    private final byte[] weight;     // [out][in] row-major codes
    private final Int8Gemm.PackedWeights packed; // the same codes in the kernel's panels
    private final float[] weightScale; // [out]
    private final float[] bias;       // [out] or null
    private final QuantSpec inputSpec;
    private final float staticInputScale;
    private final int inputMax;
    /** Static asymmetric input: its zero point; otherwise 0. */
    private final int inputZeroPoint;
    /** Asymmetric input, static or per token: the per-row weight sums; otherwise null. */
    private final int[] rowSums;
    /** Dynamic asymmetric input: scale and zero point come from each token's [min, max]. */
    private final boolean perTokenRange;
    private final Accumulation accumulation;
    /** Input elements a quantization task takes at least. */
    private static final int QUANTIZE_TASK = 16 * 1024;
    /** What asymmetric (unsigned) input codes are shifted by to become int8. */
    private static final int SHIFT = 128;

    private final String name;
    private final AccumulatorCheck check;
    /** LLM.int8: input channels with any |x| at or past this in a batch are computed in float; NaN for none. */
    private final float outlierThreshold;

    Int8Linear(FrozenLinear layer, Accumulation accumulation, AccumulatorCheck check) {
        this.accumulation = accumulation;
        this.check = check;
        this.name = layer.name();
        Shape s = layer.weight().shape();
        out = Math.toIntExact(s.get(0));
        in = Math.toIntExact(s.get(1));
        weight = layer.weight().codes().toByteArray();
        packed = Int8Gemm.pack(weight, out, in, Int8Kernel.BEST.cols());
        float[] scales = layer.weight().scale().toFloatArray();
        weightScale = new float[out];
        for (int o = 0; o < out; o++) {
            weightScale[o] = scales.length == 1 ? scales[0] : scales[o];
        }
        bias = layer.bias() == null ? null : layer.bias().toFloatArray();
        outlierThreshold = (float) layer.outlierThreshold();
        inputSpec = layer.inputSpec();
        staticInputScale = inputSpec.granularity() == Granularity.TOKEN ? Float.NaN : layer.inputScale().toFloatArray()[0];
        boolean asymmetric = !inputSpec.symmetric();
        inputMax = asymmetric ? (1 << inputSpec.bits()) - 1 : (1 << (inputSpec.bits() - 1)) - 1;
        perTokenRange = asymmetric && inputSpec.granularity() == Granularity.TOKEN;
        inputZeroPoint = asymmetric && !perTokenRange ? layer.inputZeroPoint().toIntArray()[0] : 0;
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
        FloatBuffer xs = HostTensors.floats(x);
        int[] outliers = Float.isNaN(outlierThreshold) ? new int[0] : outlierColumns(xs, tokens);
        // whole panels of tokens: the GEMM reads the padding rows and drops their results
        int[] qx = Scratch.codes((tokens + Int8Kernel.ROWS - 1) / Int8Kernel.ROWS * Int8Kernel.ROWS * in);
        float[] sx = new float[tokens];
        int[] zx = quantizeInput(outliers.length == 0 ? xs : withoutColumns(xs, tokens, outliers), tokens, qx, sx);
        long[] outShape = shape.getShape().clone();
        outShape[outShape.length - 1] = out;
        NDArray result = HostTensors.allocate(x.getManager(), new Shape(outShape));
        FloatBuffer y = HostTensors.target(result);
        // rescaling runs per finished GEMM block, in parallel and while the block is in cache
        Int8Gemm.Accumulators acc = Int8Gemm.multiply(gemmOperand(qx), tokens, packed, accumulation, Int8Kernel.BEST, (block, ld, t0, t1, o0, o1) -> {
            correctZeroPoint(zx, block, ld, t0, t1, o0, o1);
            for (int t = t0; t < t1; t++) {
                for (int o = o0; o < o1; o++) {
                    float v = block[t * ld + o] * sx[t] * weightScale[o];
                    y.put(t * out + o, bias == null ? v : v + bias[o]);
                }
            }
        });
        if (check != null) {
            check.verify(name, qx, zx, tokens, weight, out, in, acc);
        }
        if (outliers.length > 0) {
            addOutlierProducts(xs, tokens, outliers, y);
        }
        return result;
    }

    /** {@link #quantizeInput(FloatBuffer, int, int[], float[])} of a Java array. */
    int[] quantizeInput(float[] xs, int tokens, int[] qx, float[] sx) {
        return quantizeInput(FloatBuffer.wrap(xs), tokens, qx, sx);
    }

    /**
     * Input quantization: symmetric per token or with the static scale, or asymmetric with the
     * static scale and zero point or with each token's own.
     *
     * @return each token's zero point, or null for a symmetric input
     */
    int[] quantizeInput(FloatBuffer xs, int tokens, int[] qx, float[] sx) {
        MemorySegment x = MemorySegment.ofBuffer(xs);
        Int8Kernel kernel = Int8Kernel.BEST;
        int[] zx = rowSums == null ? null : new int[tokens];
        int lo = rowSums != null ? 0 : -inputMax;
        int block = Math.max(1, QUANTIZE_TASK / in); // tokens per task: one token alone is too little work to hand to a thread
        java.util.stream.IntStream.range(0, (tokens + block - 1) / block).parallel().forEach(b -> {
            for (int t = b * block; t < Math.min(tokens, (b + 1) * block); t++) {
                long from = (long) t * in;
                float s;
                int zp = inputZeroPoint;
                if (perTokenRange) {
                    float[] range = tokenRange(x, from, in);
                    s = (range[1] - range[0]) / inputMax;
                    s = s == 0f ? 1f : s;
                    zp = (int) Math.max(0, Math.min(inputMax, Math.rint(-range[0] / s)));
                } else {
                    s = Float.isNaN(staticInputScale) ? tokenScale(kernel.absMax(x, from, in), inputMax) : staticInputScale;
                }
                sx[t] = s;
                if (zx != null) {
                    zx[t] = zp;
                }
                kernel.quantize(x, from, in, s, zp, lo, inputMax, qx, t * in);
            }
        });
        return zx;
    }

    /** The input channels with some {@code |x| ≥} the outlier threshold in this batch, ascending. */
    private int[] outlierColumns(FloatBuffer xs, int tokens) {
        boolean[] hit = new boolean[in];
        for (int t = 0; t < tokens; t++) {
            for (int k = 0; k < in; k++) {
                hit[k] |= Math.abs(xs.get(t * in + k)) >= outlierThreshold;
            }
        }
        return java.util.stream.IntStream.range(0, in).filter(k -> hit[k]).toArray();
    }

    /** The input with the outlier channels set to 0: what the integer product sees (and its per-token scales). */
    private FloatBuffer withoutColumns(FloatBuffer xs, int tokens, int[] columns) {
        float[] inliers = new float[tokens * in];
        xs.get(0, inliers);
        for (int t = 0; t < tokens; t++) {
            for (int k : columns) {
                inliers[t * in + k] = 0f;
            }
        }
        return FloatBuffer.wrap(inliers);
    }

    /** {@code y[t][o] += Σ_{k outlier} x[t][k]·(w[o][k]·s_w[o])}: the outlier channels in float against the dequantized weight. */
    private void addOutlierProducts(FloatBuffer xs, int tokens, int[] columns, FloatBuffer y) {
        float[] w = new float[out * columns.length]; // the dequantized weight's outlier columns, [out][columns]
        for (int o = 0; o < out; o++) {
            for (int j = 0; j < columns.length; j++) {
                w[o * columns.length + j] = weight[o * in + columns[j]] * weightScale[o];
            }
        }
        java.util.stream.IntStream.range(0, tokens).parallel().forEach(t -> {
            for (int o = 0; o < out; o++) {
                float sum = 0f;
                for (int j = 0; j < columns.length; j++) {
                    sum += xs.get(t * in + columns[j]) * w[o * columns.length + j];
                }
                y.put(t * out + o, y.get(t * out + o) + sum);
            }
        });
    }

    /** A token's [min, max], widened to contain 0 as the simulated asymmetric quantizer does. */
    private static float[] tokenRange(MemorySegment xs, long offset, int n) {
        float min = 0f;
        float max = 0f;
        for (int k = 0; k < n; k++) {
            float v = xs.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, offset + k);
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        return new float[] {min, max};
    }

    /**
     * A token's dynamic scale, {@code max|x| / qmax} in float as the simulated per-token
     * quantizers compute it, 1 for an all-zero token.
     */
    static float tokenScale(float amax, float qmax) {
        float s = amax / qmax;
        return s == 0f ? 1f : s;
    }

    /**
     * int32 accumulators {@code acc[t][o] = Σ_k (qx[t][k] − zx[t])·w[o][k]} (exact, or as the
     * emulated accumulator gives them).
     *
     * @param zx each token's zero point as {@link #quantizeInput} returned it, or null
     */
    int[] accumulate(int[] qx, int[] zx, int tokens) {
        return Int8Gemm.multiply(gemmOperand(qx), tokens, packed, accumulation, Int8Kernel.BEST,
                (block, ld, t0, t1, o0, o1) -> correctZeroPoint(zx, block, ld, t0, t1, o0, o1)).compact(tokens, out);
    }

    /**
     * The codes as the GEMM's int8 operand: an asymmetric input's unsigned codes are shifted by
     * −128, and {@link #correctZeroPoint} puts the shift and the zero point back through the row
     * sums, {@code Σ(q − zp)·w = Σ(q − 128)·w + (128 − zp)·Σw}, with each token's zp.
     */
    private int[] gemmOperand(int[] qx) {
        if (rowSums == null) {
            return qx;
        }
        int[] codes = new int[qx.length];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = qx[i] - SHIFT;
        }
        return codes;
    }

    private void correctZeroPoint(int[] zx, int[] acc, int ld, int t0, int t1, int o0, int o1) {
        if (rowSums == null) {
            return;
        }
        for (int t = t0; t < t1; t++) {
            for (int o = o0; o < o1; o++) {
                acc[t * ld + o] += (SHIFT - zx[t]) * rowSums[o];
            }
        }
    }

    @Override
    public void close() {
        // plain Java arrays: nothing to free
    }
}
