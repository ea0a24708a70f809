package org.fmsmo.plugin.gptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.fmsmo.plugin.gptq.GemmKernel.Operand;
import org.fmsmo.plugin.gptq.GemmKernel.Zeros;
import org.junit.jupiter.api.Test;

/** The vector GEMM against a float64 sum of its definition, for every operand layout and every kind of known zeros. */
class GemmKernelTest {

    @Test
    void everyLayoutAndTriangleEqualsTheDefinition() {
        assumeTrue(GemmKernel.BEST != null, "jdk.incubator.vector is not in this JVM: GPTQ uses the engine's matmul, nothing to test");
        Random rng = new Random(7);
        // past one K block (256) and one column block (2048) with edges; α scales A only
        int[][] shapes = {{37, 70, 300}, {9, 2100, 40}, {130, 33, 513}};
        for (int[] shape : shapes) {
            int m = shape[0], n = shape[1], depth = shape[2];
            for (boolean aByRows : new boolean[] {false, true})
            for (boolean bByRows : new boolean[] {false, true})
            for (Zeros zeros : Zeros.values()) {
                int lda = (aByRows ? depth : m) + 3;
                int ldb = (bByRows ? depth : n) + 5;
                float[] a = new float[(aByRows ? m : depth) * lda + 2];
                float[] b = new float[(bByRows ? n : depth) * ldb + 4];
                fill(a, rng);
                fill(b, rng);
                Operand ao = aByRows ? Operand.indexRows(a, 2, lda) : Operand.depthRows(a, 2, lda);
                Operand bo = bByRows ? Operand.indexRows(b, 4, ldb) : Operand.depthRows(b, 4, ldb);
                // make the promised zeros true, so that skipping them is exact
                for (int i = 0; i < m; i++) {
                    for (int k = 0; k < depth; k++) {
                        if (zeros == Zeros.UPPER_A && k < i) {
                            a[(int) at(ao, i, k)] = 0;
                        }
                    }
                }
                for (int k = 0; k < depth; k++) {
                    for (int j = 0; j < n; j++) {
                        if (zeros == Zeros.UPPER_B && k > j) {
                            b[(int) at(bo, j, k)] = 0;
                        }
                    }
                }
                int ldc = n + 1;
                float[] c = new float[m * ldc + 1];
                fill(c, rng);
                float[] before = c.clone();
                float alpha = -0.75f;
                GemmKernel.BEST.multiplyAdd(m, n, depth, alpha, ao, bo, MemorySegment.ofArray(c), 1, ldc, zeros);
                double worst = 0;
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        if (zeros == Zeros.UPPER_C && j < i) {
                            continue; // unspecified
                        }
                        double s = 0;
                        double mag = 0;
                        for (int k = 0; k < depth; k++) {
                            double p = (double) a[(int) at(ao, i, k)] * b[(int) at(bo, j, k)];
                            s += p;
                            mag += Math.abs(p);
                        }
                        double expected = before[1 + i * ldc + j] + alpha * s;
                        worst = Math.max(worst, Math.abs(c[1 + i * ldc + j] - expected) / (1 + mag));
                    }
                }
                String what = m + "×" + n + "×" + depth + (aByRows ? " A by rows" : " A by depth") + (bByRows ? ", B by rows" : ", B by depth") + ", " + zeros;
                assertTrue(worst < 1e-6, what + ": max error " + worst + " of Σ|a·b|");
                for (int i = 0; i < m; i++) {
                    assertEquals(before[1 + i * ldc + n], c[1 + i * ldc + n], what + ": C past its n columns is untouched");
                }
            }
        }
    }

    private static long at(Operand o, int index, int k) {
        return o.offset() + index * o.indexStride() + k * o.depthStride();
    }

    private static void fill(float[] v, Random rng) {
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
    }
}
