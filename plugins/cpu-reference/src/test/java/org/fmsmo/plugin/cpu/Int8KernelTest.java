package org.fmsmo.plugin.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The int8 kernels and the tiled GEMM against exact long-integer sums. */
class Int8KernelTest {

    private static int[] codes(Random rng, int n) {
        int[] x = new int[n];
        for (int i = 0; i < n; i++) {
            x[i] = rng.nextInt(256) - 128;
        }
        return x;
    }

    private static byte[] weights(Random rng, int n) {
        byte[] w = new byte[n];
        for (int i = 0; i < n; i++) {
            w[i] = (byte) (rng.nextInt(255) - 127);
        }
        return w;
    }

    /** The vector panel against long sums for every K range up to 70 and then some, and at the extremes of the codes. */
    @Test
    void vectorKernelIsExactOnEveryKRange() {
        boolean present = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        System.out.println("int8 kernel: " + Int8Kernel.kernelName() + (present ? "" : " (jdk.incubator.vector absent: vector kernel not tested)"));
        assumeTrue(present, "jdk.incubator.vector is not in this JVM");
        Int8Kernel vector = new VectorInt8Kernel();
        int cols = vector.cols();
        int rows = Int8Kernel.ROWS;
        Random rng = new Random(11);
        for (int k = 1; k < 300; k += k < 70 ? 1 : 37) {
            int[] x = codes(rng, rows * k + 5);
            byte[] wp = weights(rng, k * cols + 3);
            int from = k / 3;
            int lda = cols + 7;
            int[] acc = new int[2 + rows * lda];
            vector.panel(x, 5, k, wp, 3, from, k, acc, 2, lda);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    long ref = 0;
                    for (int kk = from; kk < k; kk++) {
                        ref += (long) x[5 + i * k + kk] * wp[3 + kk * cols + j];
                    }
                    assertEquals(ref, acc[2 + i * lda + j], "K " + k + " panel [" + i + "][" + j + "]");
                }
            }
        }
        int k = 4096;
        int[] extreme = new int[rows * k];
        java.util.Arrays.fill(extreme, -128);
        byte[] low = new byte[k * cols];
        java.util.Arrays.fill(low, (byte) -128);
        int[] acc = new int[rows * cols];
        vector.panel(extreme, 0, k, low, 0, 0, k, acc, 0, cols);
        assertEquals(4096L * 128 * 128, acc[rows * cols - 1], "−128·−128 summed 4096 times");
        assertEquals("vector", Int8Kernel.kernelName(), "with the module present the vector kernel is chosen");
    }

    /**
     * Input quantization in both kernels against {@code clamp(Math.rint(x/s) + zp)} computed here:
     * ties at every half step, values far past the clamp, zero and negative zero, every length
     * around a vector (tails), an unaligned start, symmetric and asymmetric ranges.
     */
    @Test
    void quantizeRoundsHalfToEvenAndClampsLikeTheFormula() {
        Random rng = new Random(3);
        java.util.List<Int8Kernel> kernels = new java.util.ArrayList<>(java.util.List.of(new Int8Kernel.Scalar(16)));
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
            kernels.add(new VectorInt8Kernel());
        }
        for (int n = 1; n < 80; n++) {
            float[] x = new float[n + 3];
            for (int i = 0; i < x.length; i++) {
                x[i] = switch (i % 5) {
                    case 0 -> (rng.nextInt(601) - 300) * 0.5f * 0.25f; // exact halves of the step 0.25
                    case 1 -> (rng.nextFloat() - 0.5f) * 1e6f;        // far past the clamp
                    case 2 -> i % 2 == 0 ? 0f : -0f;
                    default -> (float) rng.nextGaussian() * 20f;
                };
            }
            java.lang.foreign.MemorySegment seg = java.lang.foreign.MemorySegment.ofArray(x);
            float amax = 0f;
            for (int i = 3; i < n + 3; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            for (int[] range : new int[][] {{0, -127, 127}, {37, 0, 255}}) {
                int zp = range[0], lo = range[1], hi = range[2];
                int[] expected = new int[n];
                for (int i = 0; i < n; i++) {
                    expected[i] = (int) Math.max(lo, Math.min(hi, Math.rint(x[i + 3] / 0.25f) + zp));
                }
                for (Int8Kernel kernel : kernels) {
                    int[] q = new int[n + 2];
                    kernel.quantize(seg, 3, n, 0.25f, zp, lo, hi, q, 2);
                    assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(java.util.Arrays.copyOfRange(q, 2, n + 2)),
                            kernel + " n " + n + " zp " + zp);
                    assertEquals(amax, kernel.absMax(seg, 3, n), kernel + " max|x| n " + n);
                }
            }
        }
    }

    /** Every shape class: full tiles, token and row edges, a single token, K shorter than a vector, several blocks. */
    @Test
    void tiledGemmEqualsLongSums() {
        Random rng = new Random(5);
        // a single token; tokens and outputs short of a panel; several panels and blocks with edges; K past the token block's budget
        int[][] shapes = {{1, 7, 3}, {4, 64, 4}, {6, 33, 32}, {5, 33, 6}, {37, 100, 70}, {70, 130, 129}, {3, 512, 200}, {61, 1500, 301}};
        for (Int8Kernel kernel : new Int8Kernel[] {Int8Kernel.BEST, new Int8Kernel.Scalar(16)}) {
            for (int[] s : shapes) {
                int tokens = s[0], in = s[1], out = s[2];
                int[] x = codes(rng, tokens * in);
                byte[] w = weights(rng, out * in);
                int[] acc = GemmCalls.multiply(x, tokens, w, out, in, Accumulation.EXACT, kernel);
                for (int t = 0; t < tokens; t++) {
                    for (int o = 0; o < out; o++) {
                        long ref = 0;
                        for (int k = 0; k < in; k++) {
                            ref += (long) x[t * in + k] * w[o * in + k];
                        }
                        assertEquals(ref, acc[t * out + o], java.util.Arrays.toString(s) + " [" + t + "][" + o + "]");
                    }
                }
            }
        }
    }
}
