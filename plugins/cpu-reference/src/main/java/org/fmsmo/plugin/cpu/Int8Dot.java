package org.fmsmo.plugin.cpu;

/**
 * Exact int8 dot products, {@code Σ_k a[k]·b[k]} in int32 (|a|, |b| ≤ 128 and up to 2^17
 * terms cannot overflow). The Vector API kernel is used when the JVM has
 * {@code jdk.incubator.vector} (the launcher adds it) and this plugin's loader can link it;
 * otherwise, or when {@code -Dfmsmo.cpu.vector=false}, a plain loop.
 */
interface Int8Dot {

    int dot(byte[] a, int aOffset, byte[] b, int bOffset, int n);

    /** What this JVM runs: the vector kernel when it links and agrees with the loop on a probe, else the loop. */
    Int8Dot BEST = choose();

    /** The name of {@link #BEST}, for messages and benchmarks. */
    static String kernelName() {
        return BEST instanceof Scalar ? "scalar" : "vector";
    }

    private static Int8Dot choose() {
        if (!Boolean.parseBoolean(System.getProperty("fmsmo.cpu.vector", "true"))
                || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return new Scalar();
        }
        try {
            Int8Dot v = (Int8Dot) Class.forName("org.fmsmo.plugin.cpu.VectorInt8Dot", true, Int8Dot.class.getClassLoader())
                    .getDeclaredConstructor().newInstance();
            byte[] a = new byte[300];
            byte[] b = new byte[300];
            for (int i = 0; i < a.length; i++) {
                a[i] = (byte) (i * 37 - 128);
                b[i] = (byte) (127 - i * 11);
            }
            Scalar s = new Scalar();
            return v.dot(a, 3, b, 1, 297) == s.dot(a, 3, b, 1, 297) ? v : s;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return new Scalar(); // e.g. a module layer or OSGi framework without jdk.incubator.vector
        }
    }

    /** The plain loop. */
    final class Scalar implements Int8Dot {
        @Override
        public int dot(byte[] a, int aOffset, byte[] b, int bOffset, int n) {
            int sum = 0;
            for (int k = 0; k < n; k++) {
                sum += a[aOffset + k] * b[bOffset + k];
            }
            return sum;
        }
    }
}
