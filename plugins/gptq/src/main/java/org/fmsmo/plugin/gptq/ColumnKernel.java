package org.fmsmo.plugin.gptq;

/**
 * GPTQ's innermost loop: a column's scaled error subtracted from a later column,
 * {@code dst[d0 + k] −= src[s0 + k] · f} for {@code k < n}. It is most of the column loop's time,
 * and HotSpot does not vectorize it on its own (both operands are {@code float[]} at unrelated
 * offsets, which it cannot prove apart), so the Vector API version runs when the JVM has
 * {@code jdk.incubator.vector} (the launcher adds it for {@code quantize}): 3× faster here. Both
 * round the product, then the difference, so they give the same bits.
 */
interface ColumnKernel {

    void subtractScaled(float[] dst, int d0, float[] src, int s0, int n, float f);

    /** What this JVM runs: the vector kernel when it links and agrees with the loop on a probe, else the loop. */
    ColumnKernel BEST = choose();

    /** The name of {@link #BEST}, for benchmarks. */
    static String kernelName() {
        return BEST instanceof Scalar ? "scalar" : "vector";
    }

    private static ColumnKernel choose() {
        if (!Boolean.parseBoolean(System.getProperty("fmsmo.gptq.vector", "true"))
                || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return new Scalar();
        }
        try {
            ColumnKernel v = (ColumnKernel) Class.forName("org.fmsmo.plugin.gptq.VectorColumnKernel", true, ColumnKernel.class.getClassLoader())
                    .getDeclaredConstructor().newInstance();
            float[] src = new float[101];
            float[] a = new float[103];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) Math.sin(i) * 3;
                src[i % src.length] = (float) Math.cos(i) / 7;
            }
            float[] b = a.clone();
            new Scalar().subtractScaled(a, 2, src, 1, 97, 0.3f);
            v.subtractScaled(b, 2, src, 1, 97, 0.3f);
            return java.util.Arrays.equals(a, b) ? v : new Scalar();
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return new Scalar(); // e.g. a module layer or OSGi framework without jdk.incubator.vector
        }
    }

    /** The plain loop. */
    final class Scalar implements ColumnKernel {
        @Override
        public void subtractScaled(float[] dst, int d0, float[] src, int s0, int n, float f) {
            for (int k = 0; k < n; k++) {
                dst[d0 + k] -= src[s0 + k] * f;
            }
        }
    }
}
