package org.fmsmo.plugin.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Int8Dot} on the Vector API: bytes are widened to shorts (a product of two int8 values
 * fits in 16 bits), multiplied lane-wise, widened again to ints and summed into int32 lanes; the
 * lanes are added at the end and the tail is a plain loop. Loaded only through {@link Int8Dot#BEST}.
 */
final class VectorInt8Dot implements Int8Dot {

    private static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;

    @Override
    public int dot(byte[] a, int aOffset, byte[] b, int bOffset, int n) {
        int step = BYTES.length();
        IntVector acc0 = IntVector.zero(INTS);
        IntVector acc1 = IntVector.zero(INTS);
        int k = 0;
        for (; k + step <= n; k += step) {
            ByteVector av = ByteVector.fromArray(BYTES, a, aOffset + k);
            ByteVector bv = ByteVector.fromArray(BYTES, b, bOffset + k);
            for (int half = 0; half < 2; half++) {
                ShortVector p = ((ShortVector) av.convertShape(VectorOperators.B2S, SHORTS, half))
                        .mul((ShortVector) bv.convertShape(VectorOperators.B2S, SHORTS, half));
                acc0 = acc0.add((IntVector) p.convertShape(VectorOperators.S2I, INTS, 0));
                acc1 = acc1.add((IntVector) p.convertShape(VectorOperators.S2I, INTS, 1));
            }
        }
        int sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; k < n; k++) {
            sum += a[aOffset + k] * b[bOffset + k];
        }
        return sum;
    }
}
