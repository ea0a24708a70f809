package org.fmsmo.plugin.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import static jdk.incubator.vector.VectorOperators.ADD;

/**
 * {@link Int8Kernel} on the Vector API. Weight bytes are loaded and sign-extended straight to
 * int lanes (one {@code vpmovsxbd} on x86), activation codes are already ints, and a 4 × 4
 * block of int32 lane accumulators is kept in registers: each loaded vector is used four times,
 * which is what makes this faster than one dot product at a time. Lanes are summed once per
 * block; the K tail is a plain loop. Loaded only through {@link Int8Kernel#BEST}.
 */
final class VectorInt8Kernel implements Int8Kernel {

    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    /** Bytes with as many lanes as {@link #INTS}: a quarter of its width. */
    private static final VectorSpecies<Byte> BYTES = VectorSpecies.of(byte.class, VectorShape.forBitSize(INTS.vectorBitSize() / 4));
    private static final int STEP = INTS.length();

    private static IntVector weights(byte[] w, int offset) {
        return (IntVector) ByteVector.fromArray(BYTES, w, offset).convertShape(VectorOperators.B2I, INTS, 0);
    }

    @Override
    public void tile(int[] x, int x0, byte[] w, int w0, int ld, int from, int to, int[] acc) {
        IntVector c00 = IntVector.zero(INTS), c01 = c00, c02 = c00, c03 = c00;
        IntVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        IntVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        IntVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int x1 = x0 + ld, x2 = x1 + ld, x3 = x2 + ld;
        int w1 = w0 + ld, w2 = w1 + ld, w3 = w2 + ld;
        // Lane sums are written out inline: moving them into a helper method made C2 spill the
        // sixteen accumulators and cost 2.5x at K = 384.
        int k = from;
        int bound = from + (to - from) / STEP * STEP;
        for (; k < bound; k += STEP) {
            IntVector b0 = weights(w, w0 + k), b1 = weights(w, w1 + k), b2 = weights(w, w2 + k), b3 = weights(w, w3 + k);
            IntVector a = IntVector.fromArray(INTS, x, x0 + k);
            c00 = c00.add(a.mul(b0)); c01 = c01.add(a.mul(b1)); c02 = c02.add(a.mul(b2)); c03 = c03.add(a.mul(b3));
            a = IntVector.fromArray(INTS, x, x1 + k);
            c10 = c10.add(a.mul(b0)); c11 = c11.add(a.mul(b1)); c12 = c12.add(a.mul(b2)); c13 = c13.add(a.mul(b3));
            a = IntVector.fromArray(INTS, x, x2 + k);
            c20 = c20.add(a.mul(b0)); c21 = c21.add(a.mul(b1)); c22 = c22.add(a.mul(b2)); c23 = c23.add(a.mul(b3));
            a = IntVector.fromArray(INTS, x, x3 + k);
            c30 = c30.add(a.mul(b0)); c31 = c31.add(a.mul(b1)); c32 = c32.add(a.mul(b2)); c33 = c33.add(a.mul(b3));
        }
        acc[0] = c00.reduceLanes(ADD); acc[1] = c01.reduceLanes(ADD); acc[2] = c02.reduceLanes(ADD); acc[3] = c03.reduceLanes(ADD);
        acc[4] = c10.reduceLanes(ADD); acc[5] = c11.reduceLanes(ADD); acc[6] = c12.reduceLanes(ADD); acc[7] = c13.reduceLanes(ADD);
        acc[8] = c20.reduceLanes(ADD); acc[9] = c21.reduceLanes(ADD); acc[10] = c22.reduceLanes(ADD); acc[11] = c23.reduceLanes(ADD);
        acc[12] = c30.reduceLanes(ADD); acc[13] = c31.reduceLanes(ADD); acc[14] = c32.reduceLanes(ADD); acc[15] = c33.reduceLanes(ADD);
        for (; k < to; k++) {
            for (int i = 0; i < TILE; i++) {
                for (int j = 0; j < TILE; j++) {
                    acc[i * TILE + j] += x[x0 + i * ld + k] * w[w0 + j * ld + k];
                }
            }
        }
    }

    @Override
    public int dot(int[] x, int x0, byte[] w, int w0, int from, int to) {
        IntVector c = IntVector.zero(INTS);
        int k = from;
        int bound = from + (to - from) / STEP * STEP;
        for (; k < bound; k += STEP) {
            c = c.add(IntVector.fromArray(INTS, x, x0 + k).mul(weights(w, w0 + k)));
        }
        int sum = c.reduceLanes(ADD);
        for (; k < to; k++) {
            sum += x[x0 + k] * w[w0 + k];
        }
        return sum;
    }
}
