package org.fmsmo.plugin.gptq;

import java.lang.foreign.MemorySegment;

/**
 * One slab of the Hessian's upper triangle on the Vector API:
 * {@code slab[a][c] += Σ_t X[t][r0 + a] · X[t][r0 + c]} for {@code a < w}, {@code c < n − r0}, with
 * X {@code [tokens][n]} row-major and the slab {@code [w][n − r0]} row-major, both FLOAT32 in
 * native memory (the engine's arrays, read and written in place).
 *
 * <p>The engine's matmul reaches about 110 GFLOP/s on these slabs on this project's AMD CPUs (its
 * BLAS takes a slower path there); a packed register-blocked kernel reaches about 175. It is used
 * from {@link #MIN_COLUMNS} on, where the Hessian is a large share of GPTQ's time; smaller layers
 * keep the engine's product (and their results bit for bit).
 */
interface GramKernel {

    /** Layers with fewer input columns keep the engine's matmul. */
    int MIN_COLUMNS = 1024;

    void addSlab(MemorySegment x, int tokens, int n, int r0, int w, MemorySegment slab);

    /** The vector kernel when the JVM has {@code jdk.incubator.vector} and it agrees with a direct sum on a probe; otherwise null. */
    GramKernel BEST = choose();

    private static GramKernel choose() {
        if (!Boolean.parseBoolean(System.getProperty("fmsmo.gptq.vector", "true"))
                || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return null;
        }
        try {
            GramKernel v = (GramKernel) Class.forName("org.fmsmo.plugin.gptq.VectorGramKernel", true, GramKernel.class.getClassLoader())
                    .getDeclaredConstructor().newInstance();
            // an odd shape: row and column edges, a token count that is no multiple of the blocking
            int tokens = 261, n = 75, r0 = 9, w = 23, ld = n - r0;
            float[] x = new float[tokens * n];
            for (int i = 0; i < x.length; i++) {
                x[i] = (i % 13) - 6; // small integers: every sum is exact in float
            }
            float[] slab = new float[w * ld];
            v.addSlab(MemorySegment.ofArray(x), tokens, n, r0, w, MemorySegment.ofArray(slab));
            for (int a = 0; a < w; a++) {
                for (int c = 0; c < ld; c++) {
                    float s = 0;
                    for (int t = 0; t < tokens; t++) {
                        s += x[t * n + r0 + a] * x[t * n + r0 + c];
                    }
                    if (s != slab[a * ld + c]) {
                        return null;
                    }
                }
            }
            return v;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return null; // e.g. a module layer or OSGi framework without jdk.incubator.vector
        }
    }
}
