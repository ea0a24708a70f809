package org.fmsmo.plugin.cpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.FrozenMatmul;
import org.fmsmo.api.deploy.PreparedMatmul;
import org.fmsmo.api.quant.Fp8Format;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;

/**
 * An attention matmul {@code a·b} on quantized operands, each quantized at run time with its
 * calibrated per-tensor scale:
 * <ul>
 *   <li>INT × INT: both operands become integer codes ({@code round(x/s) + zp}, half to even, as the
 *       linear layers' inputs), the products accumulate in int32 through the same GEMM as
 *       {@link Int8Linear} (the second operand packed as its "weight" for each slice), and each sum is
 *       rescaled by {@code s_a·s_b}. Asymmetric codes are shifted into int8 for the GEMM and put back
 *       through row and column sums: with real codes {@code a = c_a + d_a} and {@code b = c_b + d_b},
 *       {@code Σ a·b = Σ c_a·c_b + d_b·Σ c_a + d_a·Σ c_b + K·d_a·d_b};</li>
 *   <li>FP8 × FP8: both operands encoded to FP8 and decoded to their exact values, products exact in
 *       FP32, FP32 sums (narrowed per chunk with an emulated accumulator), rescaled by {@code s_a·s_b};</li>
 *   <li>a KV cache (float × quantized): the cache holds the second operand's codes (one byte per
 *       value); they are dequantized and multiplied with the float first operand, as serving engines
 *       read an FP8 KV cache.</li>
 * </ul>
 */
final class QuantizedMatmul implements PreparedMatmul {

    /** What asymmetric (unsigned) codes are shifted by to become int8. */
    private static final int SHIFT = 128;

    private final String name;
    private final Operand first;  // null for a KV cache
    private final Operand second;
    private final Accumulation accumulation;

    private QuantizedMatmul(String name, Operand first, Operand second, Accumulation accumulation) {
        this.name = name;
        this.first = first;
        this.second = second;
        this.accumulation = accumulation;
    }

    /** Whether this backend runs the matmul: INT × INT (≤ 8 bits), FP8 × FP8, or float × INT or FP8 (a KV cache). */
    static boolean supports(FrozenMatmul m) {
        QuantType b = m.second().spec().type();
        if (m.isKvCache()) {
            return true;
        }
        QuantType a = m.first().spec().type();
        return a == QuantType.INT && b == QuantType.INT || a.isFloat() && b.isFloat();
    }

    static QuantizedMatmul prepare(FrozenMatmul m, Accumulation accumulation) {
        if (!supports(m)) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cpu-reference runs attention matmuls INT × INT, FP8 × FP8 or float × a"
                    + " quantized KV cache; " + m.name() + " is " + m.first().spec() + " × " + m.second().spec());
        }
        if (!m.isKvCache() && m.second().spec().type().isFloat()) {
            accumulation.requireFloatAccumulator(m.name());
        }
        return new QuantizedMatmul(m.name(), m.isKvCache() ? null : new Operand(m.first()), new Operand(m.second()), accumulation);
    }

    @Override
    public NDArray forward(NDArray a, NDArray b) {
        Shape as = a.getShape();
        Shape bs = b.getShape();
        int rank = as.dimension();
        if (rank < 2 || bs.dimension() != rank || bs.get(rank - 2) != as.get(rank - 1)
                || as.size() / (as.get(rank - 2) * as.get(rank - 1)) != bs.size() / (bs.get(rank - 2) * bs.get(rank - 1))) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, name + ": operands " + as + " and " + bs + " do not multiply over their last two axes");
        }
        int t = Math.toIntExact(as.get(rank - 2));
        int k = Math.toIntExact(as.get(rank - 1));
        int s = Math.toIntExact(bs.get(rank - 1));
        int n = Math.toIntExact(as.size() / ((long) t * k));
        long[] outShape = as.getShape().clone();
        outShape[rank - 1] = s;
        NDManager m = a.getManager();
        if (first == null) {
            // a KV cache: what it holds are the codes; reading it dequantizes them
            float[] cached = second.dequantize(second.encode(b.toFloatArray()));
            try (NDArray v = m.create(cached, bs)) {
                return a.matMul(v);
            }
        }
        if (first.spec.type() == QuantType.INT) {
            return m.create(integerProduct(a.toFloatArray(), b.toFloatArray(), n, t, k, s), new Shape(outShape));
        }
        float[] av = first.dequantizeUnscaled(first.encode(a.toFloatArray()));
        float[] bv = second.dequantizeUnscaled(second.encode(b.toFloatArray()));
        float scale = first.scale * second.scale;
        if (accumulation.exact()) {
            // products of FP8 values are exact in FP32; the engine sums them in FP32
            try (NDArray x = m.create(av, as); NDArray w = m.create(bv, bs)) {
                return x.matMul(w).muli(scale);
            }
        }
        return m.create(emulatedFp8Product(av, bv, n, t, k, s, scale), new Shape(outShape));
    }

    /** INT × INT: int32 accumulation of the shifted codes, zero points through row and column sums, then {@code s_a·s_b}. */
    private float[] integerProduct(float[] av, float[] bv, int n, int t, int k, int s) {
        int[] ca = first.gemmCodes(first.encode(av));
        int[] cb = second.gemmCodes(second.encode(bv));
        int da = first.offset();
        int db = second.offset();
        float scale = first.scale * second.scale;
        float[] y = new float[n * t * s];
        for (int slice = 0; slice < n; slice++) {
            int[] x = Arrays.copyOfRange(ca, slice * t * k, (slice + 1) * t * k);
            byte[] bt = new byte[s * k]; // b's slice transposed, [s][k]: the GEMM's "weight" rows
            int[] colSums = new int[s];
            for (int kk = 0; kk < k; kk++) {
                for (int j = 0; j < s; j++) {
                    int c = cb[slice * k * s + kk * s + j];
                    bt[j * k + kk] = (byte) c;
                    colSums[j] += c;
                }
            }
            int[] rowSums = new int[t];
            for (int i = 0; i < t; i++) {
                for (int kk = 0; kk < k; kk++) {
                    rowSums[i] += x[i * k + kk];
                }
            }
            Int8Gemm.PackedWeights packed = Int8Gemm.pack(bt, s, k, Int8Kernel.BEST.cols());
            int base = slice * t * s;
            Int8Gemm.multiply(x, t, packed, accumulation, Int8Kernel.BEST, (acc, ld, t0, t1, o0, o1) -> {
                for (int i = t0; i < t1; i++) {
                    for (int j = o0; j < o1; j++) {
                        long sum = acc[i * ld + j] + (long) db * rowSums[i] + (long) da * colSums[j] + (long) k * da * db;
                        y[base + i * s + j] = (float) sum * scale;
                    }
                }
            });
        }
        return y;
    }

    /** FP8 × FP8 through the emulated FP32 accumulator ({@link Fp8Gemm}), slice by slice, then {@code s_a·s_b}. */
    private float[] emulatedFp8Product(float[] a, float[] b, int n, int t, int k, int s, float scale) {
        float[] y = new float[n * t * s];
        for (int slice = 0; slice < n; slice++) {
            float[] x = Arrays.copyOfRange(a, slice * t * k, (slice + 1) * t * k);
            float[] bt = new float[s * k];
            for (int kk = 0; kk < k; kk++) {
                for (int j = 0; j < s; j++) {
                    bt[j * k + kk] = b[slice * k * s + kk * s + j];
                }
            }
            float[] sums = Fp8Gemm.multiply(x, t, bt, s, k, accumulation);
            for (int i = 0; i < t * s; i++) {
                y[slice * t * s + i] = sums[i] * scale;
            }
        }
        return y;
    }

    @Override
    public void close() {
        // plain Java arrays: nothing to free
    }

    /** One operand's run-time quantization: codes {@code clamp(round(x/s) + zp)} (INT) or FP8 bytes. */
    private static final class Operand {
        final QuantSpec spec;
        final float scale;
        final int zeroPoint;
        final Fp8Format format; // null for INT
        final int lo;
        final int hi;

        Operand(FrozenMatmul.Operand o) {
            spec = o.spec();
            scale = o.scale().toFloatArray()[0];
            zeroPoint = o.zeroPoint() == null ? 0 : o.zeroPoint().toIntArray()[0];
            format = spec.type().fp8Format().orElse(null);
            lo = spec.symmetric() ? -((1 << (spec.bits() - 1)) - 1) : 0;
            hi = spec.symmetric() ? (1 << (spec.bits() - 1)) - 1 : (1 << spec.bits()) - 1;
        }

        /** INT codes, or FP8 bytes (as ints), of {@code x}: what a quantized cache or operand holds. */
        int[] encode(float[] x) {
            int[] codes = new int[x.length];
            java.util.stream.IntStream.range(0, x.length).parallel().forEach(i -> {
                // float division as the simulated quantizer does, then round half to even
                codes[i] = format != null ? format.encode(x[i] / scale, true)
                        : (int) Math.max(lo, Math.min(hi, Math.rint(x[i] / scale) + zeroPoint));
            });
            return codes;
        }

        /** The codes as exact values before the scale: {@code q − zp}, or the FP8 value. */
        float[] dequantizeUnscaled(int[] codes) {
            float[] v = new float[codes.length];
            for (int i = 0; i < v.length; i++) {
                v[i] = format != null ? format.decode((byte) codes[i]) : codes[i] - zeroPoint;
            }
            return v;
        }

        float[] dequantize(int[] codes) {
            float[] v = dequantizeUnscaled(codes);
            for (int i = 0; i < v.length; i++) {
                v[i] *= scale;
            }
            return v;
        }

        /** Codes in int8 range for the GEMM: unsigned ones shifted by −128. */
        int[] gemmCodes(int[] codes) {
            if (spec.symmetric()) {
                return codes;
            }
            for (int i = 0; i < codes.length; i++) {
                codes[i] -= SHIFT;
            }
            return codes;
        }

        /** What the GEMM's codes lack from the real ones ({@code q − zp = c + offset}). */
        int offset() {
            return spec.symmetric() ? 0 : SHIFT - zeroPoint;
        }
    }
}
