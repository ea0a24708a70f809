package org.fmsmo.plugin.gptq;

/**
 * GPTQ's innermost loop, left-looking: the scaled errors of earlier columns of a block applied to
 * one later column at once, {@code dst[d0 + k] = fma(err_p[k], −u_p, dst[d0 + k])} for
 * {@code p = 0 … count−1} in that order and {@code k < n}, where {@code err_p} starts at
 * {@code e0 + p·errStride} and {@code u_p = u[u0 + p·uStride]}.
 *
 * <p>Applying a column's pending updates together, just before it is quantized, reads and writes
 * it once instead of once per earlier column; it is most of the column loop's time. HotSpot does
 * not vectorize it on its own (the operands are {@code float[]} at unrelated offsets, which it
 * cannot prove apart), so the Vector API version runs when the JVM has
 * {@code jdk.incubator.vector} (the launcher adds it for {@code quantize}). Both fuse each
 * multiply-add and sum in the same order, so they give the same bits.
 */
interface ColumnKernel {

    void applyErrors(float[] dst, int d0, float[] err, int e0, int errStride, float[] u, int u0, int uStride, int count, int n);

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
            float[] err = new float[7 * 151];
            float[] u = new float[40];
            float[] a = new float[153];
            for (int i = 0; i < err.length; i++) {
                err[i] = (float) Math.cos(i) / 7;
            }
            for (int i = 0; i < u.length; i++) {
                u[i] = (float) Math.sin(i * 0.7);
            }
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) Math.sin(i) * 3;
            }
            float[] b = a.clone();
            new Scalar().applyErrors(a, 2, err, 1, 151, u, 3, 5, 7, 147);
            v.applyErrors(b, 2, err, 1, 151, u, 3, 5, 7, 147);
            return java.util.Arrays.equals(a, b) ? v : new Scalar();
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return new Scalar(); // e.g. a module layer or OSGi framework without jdk.incubator.vector
        }
    }

    /** The plain loop. */
    final class Scalar implements ColumnKernel {
        @Override
        public void applyErrors(float[] dst, int d0, float[] err, int e0, int errStride, float[] u, int u0, int uStride, int count, int n) {
            for (int p = 0; p < count; p++) {
                float f = -u[u0 + p * uStride];
                int src = e0 + p * errStride;
                for (int k = 0; k < n; k++) {
                    dst[d0 + k] = Math.fma(err[src + k], f, dst[d0 + k]);
                }
            }
        }
    }
}
