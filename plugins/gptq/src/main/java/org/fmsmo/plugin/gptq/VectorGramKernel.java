package org.fmsmo.plugin.gptq;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link GramKernel} as a small GEMM: tokens in blocks of {@link #KC}; per block, the slab's rows
 * are packed into panels of {@link #MR} columns of X and its columns into panels of two vectors,
 * each panel K-major, so the kernel streams both. The kernel keeps a 4 × 2-vector tile of sums in
 * registers over the block (with 8 rows C2 spilled them: 37 against 175 GFLOP/s) and adds it to
 * the slab at the end. Tasks are groups of row panels, each passing over all column panels.
 */
final class VectorGramKernel implements GramKernel {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final int NR = 2 * L;
    private static final int MR = 4;
    /** Tokens per block: a column panel is KC·NR floats (32 KB with AVX-512), a row panel a quarter of that. */
    private static final int KC = 256;
    /** Row panels per task. */
    private static final int GROUP = 8;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    @Override
    public void addSlab(MemorySegment x, int tokens, int n, int r0, int w, MemorySegment slab) {
        int ld = n - r0;
        int colPanels = (ld + NR - 1) / NR;
        int rowPanels = (w + MR - 1) / MR;
        float[] bp = new float[colPanels * KC * NR];
        float[] ap = new float[rowPanels * KC * MR];
        for (int t0 = 0; t0 < tokens; t0 += KC) {
            int kc = Math.min(KC, tokens - t0);
            int from = t0;
            IntStream.range(0, colPanels).parallel().forEach(p -> pack(x, n, from, kc, r0 + p * NR, Math.min(NR, ld - p * NR), NR, bp, p * KC * NR));
            IntStream.range(0, rowPanels).parallel().forEach(p -> pack(x, n, from, kc, r0 + p * MR, Math.min(MR, w - p * MR), MR, ap, p * KC * MR));
            IntStream.range(0, (rowPanels + GROUP - 1) / GROUP).parallel().forEach(g -> {
                float[] edge = new float[MR * NR];
                for (int p = 0; p < colPanels; p++) {
                    for (int q = g * GROUP; q < Math.min(rowPanels, (g + 1) * GROUP); q++) {
                        int rows = Math.min(MR, w - q * MR);
                        int cols = Math.min(NR, ld - p * NR);
                        tile(ap, q * KC * MR, bp, p * KC * NR, kc, slab, (long) q * MR * ld + (long) p * NR, ld, rows, cols, edge);
                    }
                }
            });
        }
    }

    /** Columns {@code [c0, c0 + width)} of X's rows {@code [t0, t0 + kc)} into {@code [kc][stride]} at {@code dst[d0]}, zero past {@code width}. */
    private static void pack(MemorySegment x, int n, int t0, int kc, int c0, int width, int stride, float[] dst, int d0) {
        for (int t = 0; t < kc; t++) {
            MemorySegment.copy(x, ValueLayout.JAVA_FLOAT_UNALIGNED, ((long) (t0 + t) * n + c0) * Float.BYTES, dst, d0 + t * stride, width);
            for (int c = width; c < stride; c++) {
                dst[d0 + t * stride + c] = 0f;
            }
        }
    }

    /** Adds one MR × NR tile of sums to the slab at float index {@code c0}; an edge tile ({@code rows < MR} or {@code cols < NR}) goes through {@code edge}. */
    private static void tile(float[] ap, int a0, float[] bp, int b0, int kc, MemorySegment slab, long c0, int ld, int rows, int cols, float[] edge) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int t = 0; t < kc; t++) {
            FloatVector b0v = FloatVector.fromArray(F, bp, b0 + t * NR);
            FloatVector b1v = FloatVector.fromArray(F, bp, b0 + t * NR + L);
            int a = a0 + t * MR;
            FloatVector v = FloatVector.broadcast(F, ap[a]);
            c00 = v.fma(b0v, c00);
            c01 = v.fma(b1v, c01);
            v = FloatVector.broadcast(F, ap[a + 1]);
            c10 = v.fma(b0v, c10);
            c11 = v.fma(b1v, c11);
            v = FloatVector.broadcast(F, ap[a + 2]);
            c20 = v.fma(b0v, c20);
            c21 = v.fma(b1v, c21);
            v = FloatVector.broadcast(F, ap[a + 3]);
            c30 = v.fma(b0v, c30);
            c31 = v.fma(b1v, c31);
        }
        if (rows == MR && cols == NR) {
            add(slab, c0, c00, c01);
            add(slab, c0 + ld, c10, c11);
            add(slab, c0 + 2L * ld, c20, c21);
            add(slab, c0 + 3L * ld, c30, c31);
            return;
        }
        c00.intoArray(edge, 0);
        c01.intoArray(edge, L);
        c10.intoArray(edge, NR);
        c11.intoArray(edge, NR + L);
        c20.intoArray(edge, 2 * NR);
        c21.intoArray(edge, 2 * NR + L);
        c30.intoArray(edge, 3 * NR);
        c31.intoArray(edge, 3 * NR + L);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                long i = c0 + (long) r * ld + c;
                slab.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, slab.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i) + edge[r * NR + c]);
            }
        }
    }

    private static void add(MemorySegment slab, long index, FloatVector v0, FloatVector v1) {
        long at = index * Float.BYTES;
        FloatVector.fromMemorySegment(F, slab, at, ORDER).add(v0).intoMemorySegment(slab, at, ORDER);
        FloatVector.fromMemorySegment(F, slab, at + (long) L * Float.BYTES, ORDER).add(v1).intoMemorySegment(slab, at + (long) L * Float.BYTES, ORDER);
    }
}
