package org.fmsmo.plugin.cpu;

import java.util.stream.IntStream;

/**
 * The FP8 product with an emulated FP32 accumulator: {@code acc[t][o] = Σ_k x[t][k]·w[o][k]} over
 * decoded e4m3 values, K summed in chunks whose FP32 partial sums go through
 * {@link Accumulation#add(float, float)} (mantissa truncation, per chunk or on the running sum).
 *
 * <p>Each product of two e4m3 values is exact in FP32 (4 + 4 significant bits), so only the
 * additions round. Inside a chunk the sum runs as four interleaved FP32 partial sums combined at
 * the chunk's end, a fixed order that keeps four adds in flight; the exact path does not come
 * here, it uses the engine's matmul.
 */
final class Fp8Gemm {

    private Fp8Gemm() {
    }

    /**
     * @param x activations' decoded codes {@code [tokens][in]}
     * @param w weights' decoded codes {@code [out][in]}
     * @return {@code [tokens][out]} accumulators
     */
    static float[] multiply(float[] x, int tokens, float[] w, int out, int in, Accumulation mode) {
        float[] acc = new float[tokens * out];
        int chunk = mode.chunkSize() == 0 ? in : mode.chunkSize();
        IntStream.range(0, tokens).parallel().forEach(t -> {
            for (int o = 0; o < out; o++) {
                float running = 0f;
                for (int k = 0; k < in; k += chunk) {
                    running = mode.add(running, dot(x, t * in, w, o * in, k, Math.min(in, k + chunk)));
                }
                acc[t * out + o] = running;
            }
        });
        return acc;
    }

    /** {@code Σ_{k ∈ [from, to)} x[x0 + k]·w[w0 + k]} in FP32: four interleaved sums, then ((s0 + s1) + (s2 + s3)). */
    static float dot(float[] x, int x0, float[] w, int w0, int from, int to) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int k = from;
        for (; k + 4 <= to; k += 4) {
            s0 += x[x0 + k] * w[w0 + k];
            s1 += x[x0 + k + 1] * w[w0 + k + 1];
            s2 += x[x0 + k + 2] * w[w0 + k + 2];
            s3 += x[x0 + k + 3] * w[w0 + k + 3];
        }
        for (; k < to; k++) {
            s0 += x[x0 + k] * w[w0 + k];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
