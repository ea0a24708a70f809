package org.fmsmo.plugin.gptq;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link GemmKernel} as a packed, register-blocked GEMM. K goes in blocks of {@link #KC} and the
 * columns of C in blocks of {@link #NC}. Per block, A's rows are packed into panels of {@link #MR}
 * (scaled by α on the way) and B's columns into panels of three vectors, each panel K-major, so
 * the kernel streams both whichever way the operands are stored. A 4 × 3-vector tile of sums
 * stays in registers over the K block and is added to C at the end. Twelve sums hide the FMA
 * latency that eight (4 × 2) did not quite: on 2,048-wide products 250–290 GFLOP/s against
 * 210–260 on the two cores here, 4 × 4, 6 × 3 and 8 × 2 no faster (and 8 × 2 spilled in C2 in an
 * earlier form). Tasks are groups of row panels, each passing over the column panels of the block.
 */
final class VectorGemmKernel implements GemmKernel {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final int NR = 3 * L;
    private static final int MR = 4;
    /** K per block: a column panel is KC·NR floats (48 KB with AVX-512), a row panel KC·MR (4 KB). */
    private static final int KC = 256;
    /** Columns of C per block: the packed B block is KC·NC floats (2 MB), whatever n is. */
    private static final int NC = 2048;
    /** Row panels per task. */
    private static final int GROUP = 8;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    /**
     * The packed operands, kept per calling thread and grown as needed: GPTQ calls the kernel a
     * few hundred times per 8B-shaped layer, and fresh packed A blocks (15 MB at 14336 rows) were
     * gigabytes of garbage that the heap grew to hold. A call that finds its thread's buffers in
     * use (a fork-join worker running another caller's task while it waits) packs into new ones.
     */
    private static final class Scratch {
        float[] a = new float[0];
        float[] b = new float[0];
        boolean busy;
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    @Override
    public void multiplyAdd(int m, int n, int depth, float alpha, Operand a, Operand b, MemorySegment c, long cOffset, int ldc, Zeros zeros) {
        Scratch s = SCRATCH.get();
        if (s.busy) {
            s = new Scratch();
        }
        s.busy = true;
        try {
            int rowPanels = (m + MR - 1) / MR;
            if (s.a.length < rowPanels * KC * MR) {
                s.a = new float[rowPanels * KC * MR];
            }
            int bSize = (Math.min(n, NC) + NR - 1) / NR * KC * NR;
            if (s.b.length < bSize) {
                s.b = new float[bSize];
            }
            multiplyAdd(m, n, depth, alpha, a, b, c, cOffset, ldc, zeros, s.a, s.b);
        } finally {
            s.busy = false;
        }
    }

    private static void multiplyAdd(int m, int n, int depth, float alpha, Operand a, Operand b, MemorySegment c, long cOffset, int ldc, Zeros zeros,
                                    float[] ap, float[] bp) {
        int rowPanels = (m + MR - 1) / MR;
        for (int k0 = 0; k0 < depth; k0 += KC) {
            int kc = Math.min(KC, depth - k0);
            int kStart = k0;
            pack(a, m, MR, kStart, kc, alpha, ap);
            for (int j0 = 0; j0 < n; j0 += NC) {
                int nc = Math.min(NC, n - j0);
                int colPanels = (nc + NR - 1) / NR;
                int jStart = j0;
                pack(b.from(jStart), nc, NR, kStart, kc, 1f, bp);
                int groups = (rowPanels + GROUP - 1) / GROUP;
                IntStream.range(0, groups).parallel().forEach(task -> {
                    // groups from the top and the bottom alternate: with triangular zeros the top
                    // rows have the most tiles, and each half of the range then has its share
                    int g = task % 2 == 0 ? task / 2 : groups - 1 - task / 2;
                    float[] sums = new float[MR * NR];
                    for (int p = 0; p < colPanels; p++) {
                        int col = jStart + p * NR;
                        for (int q = g * GROUP; q < Math.min(rowPanels, (g + 1) * GROUP); q++) {
                            if (zeros.skips(q * MR, col, NR, kStart, kc)) {
                                continue;
                            }
                            int rows = Math.min(MR, m - q * MR);
                            int cols = Math.min(NR, n - col);
                            long at = cOffset + (long) q * MR * ldc + col;
                            tile(ap, q * KC * MR, bp, p * KC * NR, kc, c, at, ldc, rows, cols, sums);
                        }
                    }
                });
            }
        }
    }

    /**
     * Elements {@code [0, count)} of the operand along its index, at depths {@code [k0, k0 + kc)},
     * times α, into panels of {@code width}: element (i, k0 + t) goes to
     * {@code dst[(i / width)·KC·width + t·width + i % width]}, zero past {@code count}. Stored as
     * rows of K, each row is copied out in one piece and dealt into the panels (a copy call per
     * panel row cost a third of the products' time); stored the other way, each run of K is.
     */
    private static void pack(Operand o, int count, int width, int k0, int kc, float alpha, float[] dst) {
        int panels = (count + width - 1) / width;
        long base = o.offset() + (long) k0 * o.depthStride();
        if (o.indexStride() == 1) {
            int chunk = 16;
            IntStream.range(0, (kc + chunk - 1) / chunk).parallel().forEach(c -> {
                float[] row = new float[panels * width]; // zero past count
                for (int t = c * chunk; t < Math.min(kc, (c + 1) * chunk); t++) {
                    MemorySegment.copy(o.data(), ValueLayout.JAVA_FLOAT_UNALIGNED, (base + t * o.depthStride()) * Float.BYTES, row, 0, count);
                    for (int p = 0; p < panels; p++) {
                        int to = p * KC * width + t * width;
                        int from = p * width;
                        for (int i = 0; i < width; i++) {
                            dst[to + i] = alpha * row[from + i];
                        }
                    }
                }
            });
        } else {
            IntStream.range(0, panels).parallel().forEach(p -> {
                float[] run = new float[kc];
                int to = p * KC * width;
                for (int i = 0; i < width; i++) {
                    if (p * width + i >= count) {
                        for (int t = 0; t < kc; t++) {
                            dst[to + t * width + i] = 0f;
                        }
                        continue;
                    }
                    MemorySegment.copy(o.data(), ValueLayout.JAVA_FLOAT_UNALIGNED, (base + (long) (p * width + i) * o.indexStride()) * Float.BYTES, run, 0, kc);
                    for (int t = 0; t < kc; t++) {
                        dst[to + t * width + i] = alpha * run[t];
                    }
                }
            });
        }
    }

    /**
     * Adds one MR × NR tile of sums to C at float index {@code at}, only its first {@code rows} ×
     * {@code cols} at an edge. The sums pass through {@code sums}, a Java array, so that the
     * register loop never touches C: C is native memory for the Hessian and a Java array for the
     * lazy updates, and with both kinds of segment reaching one loop C2 compiled it to half speed.
     */
    private static void tile(float[] ap, int a0, float[] bp, int b0, int kc, MemorySegment c, long at, int ldc, int rows, int cols, float[] sums) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00;
        for (int t = 0; t < kc; t++) {
            FloatVector b0v = FloatVector.fromArray(F, bp, b0 + t * NR);
            FloatVector b1v = FloatVector.fromArray(F, bp, b0 + t * NR + 1 * L);
            FloatVector b2v = FloatVector.fromArray(F, bp, b0 + t * NR + 2 * L);
            int a = a0 + t * MR;
            FloatVector v = FloatVector.broadcast(F, ap[a]);
            c00 = v.fma(b0v, c00);
            c01 = v.fma(b1v, c01);
            c02 = v.fma(b2v, c02);
            v = FloatVector.broadcast(F, ap[a + 1]);
            c10 = v.fma(b0v, c10);
            c11 = v.fma(b1v, c11);
            c12 = v.fma(b2v, c12);
            v = FloatVector.broadcast(F, ap[a + 2]);
            c20 = v.fma(b0v, c20);
            c21 = v.fma(b1v, c21);
            c22 = v.fma(b2v, c22);
            v = FloatVector.broadcast(F, ap[a + 3]);
            c30 = v.fma(b0v, c30);
            c31 = v.fma(b1v, c31);
            c32 = v.fma(b2v, c32);
        }
        c00.intoArray(sums, 0 * NR + 0 * L);
        c01.intoArray(sums, 0 * NR + 1 * L);
        c02.intoArray(sums, 0 * NR + 2 * L);
        c10.intoArray(sums, 1 * NR + 0 * L);
        c11.intoArray(sums, 1 * NR + 1 * L);
        c12.intoArray(sums, 1 * NR + 2 * L);
        c20.intoArray(sums, 2 * NR + 0 * L);
        c21.intoArray(sums, 2 * NR + 1 * L);
        c22.intoArray(sums, 2 * NR + 2 * L);
        c30.intoArray(sums, 3 * NR + 0 * L);
        c31.intoArray(sums, 3 * NR + 1 * L);
        c32.intoArray(sums, 3 * NR + 2 * L);
        addTile(sums, rows, cols, c, at, ldc);
    }

    /**
     * {@code C[at + r·ldc + j] += sums[r·NR + j]} for {@code r < rows}, {@code j < cols}. A Java
     * array is added to as an array: with heap and native segments both reaching one
     * {@code fromMemorySegment}, C2 left its vector calls out of line (a tenth of the kernel's time).
     */
    private static void addTile(float[] sums, int rows, int cols, MemorySegment c, long at, int ldc) {
        if (!c.isNative()) {
            addTile(sums, rows, cols, (float[]) c.heapBase().orElseThrow(), Math.toIntExact(c.address() / Float.BYTES + at), ldc);
            return;
        }
        for (int r = 0; r < rows; r++) {
            long row = at + (long) r * ldc;
            if (cols == NR) {
                for (int j = 0; j < NR; j += L) {
                    long bytes = (row + j) * Float.BYTES;
                    FloatVector.fromMemorySegment(F, c, bytes, ORDER).add(FloatVector.fromArray(F, sums, r * NR + j)).intoMemorySegment(c, bytes, ORDER);
                }
            } else {
                for (int j = 0; j < cols; j++) {
                    c.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, row + j, c.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, row + j) + sums[r * NR + j]);
                }
            }
        }
    }

    private static void addTile(float[] sums, int rows, int cols, float[] c, int at, int ldc) {
        for (int r = 0; r < rows; r++) {
            int row = at + r * ldc;
            if (cols == NR) {
                for (int j = 0; j < NR; j += L) {
                    FloatVector.fromArray(F, c, row + j).add(FloatVector.fromArray(F, sums, r * NR + j)).intoArray(c, row + j);
                }
            } else {
                for (int j = 0; j < cols; j++) {
                    c[row + j] += sums[r * NR + j];
                }
            }
        }
    }
}
