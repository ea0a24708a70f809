package org.fmsmo.core.rotation;

import java.util.SplittableRandom;

/**
 * Orthogonal matrices for rotations (QuaRot, SpinQuant): a randomized Hadamard matrix of any size.
 * A size {@code n = 2^k · m} ({@code m} odd) gets {@code (H_{2^k} · D) ⊗ R_m / √(2^k)}: Sylvester's
 * Hadamard with random signs {@code D}, and for the odd part a random orthogonal {@code R_m}
 * (Gram–Schmidt on Gaussian columns, in double). Powers of two are pure Hadamard: the rotation
 * spreads every channel over all of them with equal weight, which is what flattens outliers.
 */
public final class Orthogonal {

    private Orthogonal() {
    }

    /** The {@code n × n} matrix, row-major; seeded: the same seed gives the same matrix. */
    public static float[] randomizedHadamard(int n, long seed) {
        if (n < 1) {
            throw new IllegalArgumentException("a rotation needs at least one dimension, found " + n);
        }
        int pow = Integer.lowestOneBit(n);
        int odd = n / pow;
        SplittableRandom random = new SplittableRandom(seed);
        double[] h = hadamard(pow, random);
        double[] r = odd == 1 ? new double[] {1} : randomOrthogonal(odd, random);
        float[] out = new float[n * n];
        // Kronecker product: row (a·odd + b), column (c·odd + d) = h[a][c] · r[b][d]
        for (int a = 0; a < pow; a++) {
            for (int c = 0; c < pow; c++) {
                double hv = h[a * pow + c];
                for (int b = 0; b < odd; b++) {
                    for (int d = 0; d < odd; d++) {
                        out[(a * odd + b) * n + c * odd + d] = (float) (hv * r[b * odd + d]);
                    }
                }
            }
        }
        return out;
    }

    /** Sylvester's Hadamard matrix of size {@code n} (a power of two), columns' signs flipped at random, scaled by 1/√n. */
    static double[] hadamard(int n, SplittableRandom random) {
        double[] h = {1};
        for (int size = 1; size < n; size *= 2) {
            double[] next = new double[4 * size * size];
            for (int i = 0; i < size; i++) {
                for (int j = 0; j < size; j++) {
                    double v = h[i * size + j];
                    next[i * 2 * size + j] = v;
                    next[i * 2 * size + j + size] = v;
                    next[(i + size) * 2 * size + j] = v;
                    next[(i + size) * 2 * size + j + size] = -v;
                }
            }
            h = next;
        }
        double scale = 1 / Math.sqrt(n);
        for (int j = 0; j < n; j++) {
            double sign = random.nextBoolean() ? scale : -scale;
            for (int i = 0; i < n; i++) {
                h[i * n + j] *= sign;
            }
        }
        return h;
    }

    /** A random orthogonal {@code m × m}: modified Gram–Schmidt on Gaussian columns. */
    static double[] randomOrthogonal(int m, SplittableRandom random) {
        double[] a = new double[m * m];
        for (int i = 0; i < a.length; i++) {
            a[i] = gaussian(random);
        }
        for (int j = 0; j < m; j++) {
            for (int p = 0; p < j; p++) {
                double dot = 0;
                for (int i = 0; i < m; i++) {
                    dot += a[i * m + j] * a[i * m + p];
                }
                for (int i = 0; i < m; i++) {
                    a[i * m + j] -= dot * a[i * m + p];
                }
            }
            double norm = 0;
            for (int i = 0; i < m; i++) {
                norm += a[i * m + j] * a[i * m + j];
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < m; i++) {
                a[i * m + j] /= norm;
            }
        }
        return a;
    }

    private static double gaussian(SplittableRandom random) {
        double u = 1 - random.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
    }
}
