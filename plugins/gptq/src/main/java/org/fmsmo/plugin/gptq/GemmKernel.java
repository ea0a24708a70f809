package org.fmsmo.plugin.gptq;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code C += α·op(A)·op(B)} in FLOAT32: {@code C[i][j] += α Σ_k a(i, k) · b(k, j)} for
 * {@code i < m}, {@code j < n}, {@code k < depth}. Each matrix is a memory segment (a Java
 * {@code float[]} or an engine array's native memory, read and written in place) with an offset
 * and strides in floats, so either operand may be stored either way round ({@link Operand}).
 *
 * <p>GPTQ's large products have this shape: the Hessian's slabs {@code X_iᵀX} (A and B are
 * columns of the input rows X) and the column loop's lazy updates {@code W −= E·U}, which in the
 * transposed layout are {@code Wᵀ −= U_slabᵀ·Eᵀ} (A is a slab of U's rows, B the block's errors).
 * The inverse-Cholesky's level products ({@link Cholesky}) are the others, with A or B stored
 * the other way round and triangular zeros. The engine's BLAS reaches about 110 GFLOP/s on these
 * shapes on this project's AMD CPUs (it takes a slower path there) and needs the operands copied
 * in and out; this kernel reaches 220–290 in place. It is used from {@link #MIN_COLUMNS} inputs
 * on, where these products are most of GPTQ's time; smaller layers keep the engine's matmul, so
 * their results stay bit for bit.
 */
interface GemmKernel {

    /** Layers with fewer input columns keep the engine's matmul. */
    int MIN_COLUMNS = 1024;

    /** Whether a layer with {@code inputs} input columns runs its large products on the kernel: the JVM has it and the layer is wide enough. */
    static boolean runsFor(int inputs) {
        return BEST != null && inputs >= MIN_COLUMNS;
    }

    /**
     * Element {@code (index, k)} of an operand: {@code data[offset + index·indexStride + k·depthStride]}
     * in floats, where the index is A's row i or B's column j.
     */
    record Operand(MemorySegment data, long offset, long indexStride, long depthStride) {

        /** The operand from index {@code i0} on. */
        Operand from(int i0) {
            return new Operand(data, offset + i0 * indexStride, indexStride, depthStride);
        }

        /** Stored as rows of K: A as {@code [depth][m]} (transposed), B as {@code [depth][n]} (as it is). */
        static Operand depthRows(MemorySegment data, long offset, int ld) {
            return new Operand(data, offset, 1, ld);
        }

        static Operand depthRows(float[] data, long offset, int ld) {
            return depthRows(MemorySegment.ofArray(data), offset, ld);
        }

        /** Stored as rows of the index: A as {@code [m][depth]} (as it is), B as {@code [n][depth]} (transposed). */
        static Operand indexRows(float[] data, long offset, int ld) {
            return new Operand(MemorySegment.ofArray(data), offset, ld, 1);
        }
    }

    /** Known zeros, whose tiles need no products. */
    enum Zeros {
        /** Nothing known. */
        NONE,
        /** A is upper triangular: {@code A(i, k) = 0} for {@code k < i}. */
        UPPER_A,
        /** B is upper triangular: {@code B(k, j) = 0} for {@code k > j}. */
        UPPER_B,
        /**
         * Only C's upper triangle ({@code j ≥ i}) is read afterwards, as for a symmetric result:
         * entries with {@code j < i} may or may not be added to.
         */
        UPPER_C;

        /** Whether the tile of rows from {@code i0} and columns {@code [j0, j0 + width)} adds nothing needed over depths {@code [k0, k0 + kc)}. */
        boolean skips(int i0, int j0, int width, int k0, int kc) {
            return switch (this) {
                case NONE -> false;
                case UPPER_A -> k0 + kc <= i0; // every k < every i
                case UPPER_B -> k0 >= j0 + width; // every k > every j
                case UPPER_C -> j0 + width <= i0; // every j < every i
            };
        }
    }

    /** {@code C[i·ldc + j] += α Σ_k a(i, k) · b(k, j)} at {@code cOffset} of {@code c}, for {@code i < m}, {@code j < n}, {@code k < depth}. */
    void multiplyAdd(int m, int n, int depth, float alpha, Operand a, Operand b, MemorySegment c, long cOffset, int ldc, Zeros zeros);

    /** The vector kernel when the JVM has {@code jdk.incubator.vector} and it agrees with direct sums on a probe; otherwise null. */
    GemmKernel BEST = choose();

    private static GemmKernel choose() {
        if (!Boolean.parseBoolean(System.getProperty("fmsmo.gptq.vector", "true"))
                || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return null;
        }
        try {
            GemmKernel v = (GemmKernel) Class.forName("org.fmsmo.plugin.gptq.VectorGemmKernel", true, GemmKernel.class.getClassLoader())
                    .getDeclaredConstructor().newInstance();
            return agreesWithDirectSums(v) ? v : null;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return null; // e.g. a module layer or OSGi framework without jdk.incubator.vector
        }
    }

    /**
     * An odd shape with offsets and strides, a depth that is no multiple of the blocking, α = −1,
     * into a Java array and into native memory, with and without {@link Zeros#UPPER_C}. The values are
     * small integers, so every sum is exact in FLOAT32 whatever the order.
     */
    static boolean agreesWithDirectSums(GemmKernel k) {
        int m = 23, n = 67, depth = 261, lda = 31, ldb = 75, ldc = 70, aOff = 5, bOff = 9, cOff = 3;
        float[] a = new float[depth * lda + aOff];
        float[] b = new float[depth * ldb + bOff];
        for (int i = 0; i < a.length; i++) {
            a[i] = (i % 13) - 6;
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (i % 11) - 5;
        }
        for (boolean upper : new boolean[] {false, true}) {
            float[] c = new float[m * ldc + cOff];
            for (int i = 0; i < c.length; i++) {
                c[i] = i % 7;
            }
            float[] expected = c.clone();
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    float s = 0;
                    for (int t = 0; t < depth; t++) {
                        s += a[t * lda + aOff + i] * b[t * ldb + bOff + j];
                    }
                    expected[cOff + i * ldc + j] -= s;
                }
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment nativeC = arena.allocate((long) c.length * Float.BYTES, 64);
                MemorySegment.copy(c, 0, nativeC, ValueLayout.JAVA_FLOAT, 0, c.length);
                Operand ao = Operand.depthRows(a, aOff, lda);
                Operand bo = Operand.depthRows(b, bOff, ldb);
                Zeros zeros = upper ? Zeros.UPPER_C : Zeros.NONE;
                k.multiplyAdd(m, n, depth, -1f, ao, bo, MemorySegment.ofArray(c), cOff, ldc, zeros);
                k.multiplyAdd(m, n, depth, -1f, ao, bo, nativeC, cOff, ldc, zeros);
                float[] fromNative = nativeC.toArray(ValueLayout.JAVA_FLOAT);
                for (int i = 0; i < c.length; i++) {
                    int row = (i - cOff) / ldc;
                    int col = (i - cOff) % ldc;
                    boolean unspecified = upper && i >= cOff && row < m && col < n && col < row;
                    if (!unspecified && (c[i] != expected[i] || fromNative[i] != expected[i])) {
                        return false;
                    }
                }
            }
        }
        return true;
    }
}
