package org.fmsmo.plugin.cpu;

/**
 * The inner loops of the int8 GEMM: exact sums {@code Σ_k x[k]·w[k]} in int32 of activation
 * codes (held as ints, |x| ≤ 128) and weight codes (bytes). |x·w| ≤ 2^14, so up to 2^17 terms
 * cannot overflow. The Vector API implementation is used when the JVM has
 * {@code jdk.incubator.vector} (the launcher adds it) and this plugin's loader can link it;
 * otherwise, or when {@code -Dfmsmo.cpu.vector=false}, plain loops.
 */
interface Int8Kernel {

    /** Rows of activations and of weights that {@link #tile} sums at once (a 4 × 4 register block). */
    int TILE = 4;

    /**
     * A 4 × 4 block of partial sums: {@code acc[i·4 + j] = Σ_{k ∈ [from, to)} x[x0 + i·ld + k] · w[w0 + j·ld + k]}.
     *
     * @param ld the row length (K) of both operands
     */
    void tile(int[] x, int x0, byte[] w, int w0, int ld, int from, int to, int[] acc);

    /** One partial sum {@code Σ_{k ∈ [from, to)} x[x0 + k] · w[w0 + k]}, for the edges of the output. */
    int dot(int[] x, int x0, byte[] w, int w0, int from, int to);

    /** What this JVM runs: the vector kernel when it links and agrees with the loops on a probe, else the loops. */
    Int8Kernel BEST = choose();

    /** The name of {@link #BEST}, for messages and benchmarks. */
    static String kernelName() {
        return BEST instanceof Scalar ? "scalar" : "vector";
    }

    private static Int8Kernel choose() {
        if (!Boolean.parseBoolean(System.getProperty("fmsmo.cpu.vector", "true"))
                || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return new Scalar();
        }
        try {
            Int8Kernel v = (Int8Kernel) Class.forName("org.fmsmo.plugin.cpu.VectorInt8Kernel", true, Int8Kernel.class.getClassLoader())
                    .getDeclaredConstructor().newInstance();
            int ld = 203;
            int[] x = new int[TILE * ld];
            byte[] w = new byte[TILE * ld];
            for (int i = 0; i < x.length; i++) {
                x[i] = (i * 37) % 256 - 128;
                w[i] = (byte) (127 - (i * 11) % 255);
            }
            int[] expected = new int[TILE * TILE];
            int[] actual = new int[TILE * TILE];
            Scalar s = new Scalar();
            s.tile(x, 0, w, 0, ld, 3, ld, expected);
            v.tile(x, 0, w, 0, ld, 3, ld, actual);
            boolean agrees = java.util.Arrays.equals(expected, actual) && v.dot(x, 1, w, 2, 0, 190) == s.dot(x, 1, w, 2, 0, 190);
            return agrees ? v : s;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return new Scalar(); // e.g. a module layer or OSGi framework without jdk.incubator.vector
        }
    }

    /** Plain loops. */
    final class Scalar implements Int8Kernel {
        @Override
        public void tile(int[] x, int x0, byte[] w, int w0, int ld, int from, int to, int[] acc) {
            for (int i = 0; i < TILE; i++) {
                for (int j = 0; j < TILE; j++) {
                    acc[i * TILE + j] = dot(x, x0 + i * ld, w, w0 + j * ld, from, to);
                }
            }
        }

        @Override
        public int dot(int[] x, int x0, byte[] w, int w0, int from, int to) {
            int sum = 0;
            for (int k = from; k < to; k++) {
                sum += x[x0 + k] * w[w0 + k];
            }
            return sum;
        }
    }
}
