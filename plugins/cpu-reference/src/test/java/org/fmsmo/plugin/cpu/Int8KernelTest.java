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

    @Test
    void vectorKernelIsExactOnEveryTailLength() {
        boolean present = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        System.out.println("int8 kernel: " + Int8Kernel.kernelName() + (present ? "" : " (jdk.incubator.vector absent: vector kernel not tested)"));
        assumeTrue(present, "jdk.incubator.vector is not in this JVM");
        Int8Kernel vector = new VectorInt8Kernel();
        Random rng = new Random(11);
        int[] tile = new int[16];
        for (int ld = 1; ld < 300; ld += ld < 70 ? 1 : 37) {
            int[] x = codes(rng, 4 * ld + 5);
            byte[] w = weights(rng, 4 * ld + 3);
            int from = ld / 3;
            vector.tile(x, 5, w, 3, ld, from, ld, tile);
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    long ref = 0;
                    for (int k = from; k < ld; k++) {
                        ref += (long) x[5 + i * ld + k] * w[3 + j * ld + k];
                    }
                    assertEquals(ref, tile[i * 4 + j], "ld " + ld + " tile [" + i + "][" + j + "]");
                    if (i == j) {
                        assertEquals(ref, vector.dot(x, 5 + i * ld, w, 3 + j * ld, from, ld), "ld " + ld + " dot " + i);
                    }
                }
            }
        }
        int[] extreme = new int[4 * 4096];
        java.util.Arrays.fill(extreme, -128);
        byte[] low = new byte[4 * 4096];
        java.util.Arrays.fill(low, (byte) -128);
        vector.tile(extreme, 0, low, 0, 4096, 0, 4096, tile);
        assertEquals(4096L * 128 * 128, tile[15], "−128·−128 summed 4096 times");
        assertEquals("vector", Int8Kernel.kernelName(), "with the module present the vector kernel is chosen");
    }

    /** Every shape class: full tiles, token and row edges, a single token, K shorter than a vector, several blocks. */
    @Test
    void tiledGemmEqualsLongSums() {
        Random rng = new Random(5);
        int[][] shapes = {{1, 7, 3}, {4, 64, 4}, {5, 33, 6}, {37, 100, 70}, {70, 130, 129}, {3, 512, 200}};
        for (Int8Kernel kernel : new Int8Kernel[] {Int8Kernel.BEST, new Int8Kernel.Scalar()}) {
            for (int[] s : shapes) {
                int tokens = s[0], in = s[1], out = s[2];
                int[] x = codes(rng, tokens * in);
                byte[] w = weights(rng, out * in);
                int[] acc = Int8Gemm.multiply(x, tokens, w, out, in, Accumulation.EXACT, kernel);
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
