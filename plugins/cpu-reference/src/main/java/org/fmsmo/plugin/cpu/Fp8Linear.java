package org.fmsmo.plugin.cpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.Fp8Format;
import org.fmsmo.api.quant.Granularity;

/**
 * FP8 e4m3 × e4m3 with FP32 accumulation, as FP8 tensor cores compute: the input is encoded to
 * e4m3 at run time (per token, {@code s = amax/448}, or with the static scale), both operands'
 * codes are decoded to their exact values (a product of two e4m3 values is exact in FP32), the
 * products are summed in FP32 by the engine's matmul, and each sum is scaled by
 * {@code s_x[token]·s_w[row]}. The encoding is the simulated quantizer's (round half to even,
 * saturating), so only the summation order differs from simulation.
 *
 * <p>With an emulated accumulator ({@code truncate_lsb}, {@code chunk_size}) the sums come from
 * {@link Fp8Gemm} instead of the engine, chunk by chunk through the narrowed FP32 accumulator.
 */
final class Fp8Linear implements PreparedLinear {

    private final NDManager manager;
    private final int in;
    private final int out;
    private final Fp8Format format;
    private final NDArray weightCodesT;  // decoded e4m3 values, [in, out], for the engine's matmul; null on the emulated path
    private final NDArray weightScale;   // [out]
    private final NDArray bias;          // [out] or null
    private final float staticInputScale; // NaN: per token
    private final Accumulation accumulation;
    /** Decoded weight values {@code [out][in]} for the emulated path; null on the exact path. */
    private final float[] weightValues;

    Fp8Linear(FrozenLinear layer, Accumulation accumulation) {
        accumulation.requireFloatAccumulator(layer.name());
        this.accumulation = accumulation;
        manager = layer.weight().codes().getManager().newSubManager();
        Shape s = layer.weight().shape();
        out = Math.toIntExact(s.get(0));
        in = Math.toIntExact(s.get(1));
        format = layer.weight().spec().type().fp8Format().orElseThrow();
        byte[] codes = layer.weight().codes().toByteArray();
        float[] values = new float[codes.length];
        for (int i = 0; i < codes.length; i++) {
            values[i] = format.decode(codes[i]);
        }
        // one copy of the weights: a transposed NDArray for the exact path, a plain array for the emulated one
        weightCodesT = accumulation.exact() ? manager.create(values, new Shape(out, in)).transpose().duplicate() : null;
        weightValues = accumulation.exact() ? null : values;
        float[] scales = layer.weight().scale().toFloatArray();
        float[] perRow = new float[out];
        for (int o = 0; o < out; o++) {
            perRow[o] = scales.length == 1 ? scales[0] : scales[o];
        }
        weightScale = manager.create(perRow);
        bias = layer.bias() == null ? null : manager.create(layer.bias().toFloatArray());
        staticInputScale = layer.inputSpec().granularity() == Granularity.TOKEN ? Float.NaN : layer.inputScale().toFloatArray()[0];
    }

    @Override
    public NDArray forward(NDArray x) {
        Shape shape = x.getShape();
        int tokens = Math.toIntExact(shape.size() / in);
        java.nio.FloatBuffer xs = org.fmsmo.api.deploy.HostTensors.floats(x);
        float[] decoded = new float[tokens * in];
        float[] sx = new float[tokens];
        quantizeInput(xs, tokens, decoded, sx);
        NDManager m = x.getManager();
        NDArray sums = weightValues == null ? m.create(decoded, new Shape(tokens, in)).matMul(weightCodesT)
                : m.create(Fp8Gemm.multiply(decoded, tokens, weightValues, out, in, accumulation), new Shape(tokens, out));
        NDArray y = sums.muli(m.create(sx, new Shape(tokens, 1))).muli(weightScale);
        if (bias != null) {
            y.addi(bias);
        }
        long[] outShape = shape.getShape().clone();
        outShape[outShape.length - 1] = out;
        return y.reshape(new Shape(outShape));
    }

    /** e4m3 values of the input (the decoded codes) and each token's scale. */
    void quantizeInput(java.nio.FloatBuffer xs, int tokens, float[] decoded, float[] sx) {
        java.lang.foreign.MemorySegment segment = java.lang.foreign.MemorySegment.ofBuffer(xs);
        for (int t = 0; t < tokens; t++) {
            float s = Float.isNaN(staticInputScale)
                    ? Int8Linear.tokenScale(Int8Kernel.BEST.absMax(segment, (long) t * in, in), format.max())
                    : staticInputScale;
            sx[t] = s;
            for (int k = 0; k < in; k++) {
                decoded[t * in + k] = format.decode(format.encode(xs.get(t * in + k) / s, true));
            }
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
