package org.fmsmo.plugin.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Int8Kernel} on the Vector API. Per step of K, one packed weight row of the panel is
 * loaded as bytes and sign-extended straight to two int vectors (one {@code vpmovsxbd} each on
 * x86), each of the six tokens' codes is broadcast and multiplied with both, and the twelve
 * products are added to accumulators that stay in registers for the whole K range. Loaded only
 * through {@link Int8Kernel#BEST}.
 *
 * <p>The loop body is written out for six rows: with a helper method or an array of
 * accumulators C2 keeps them in memory, which in the earlier dot-product kernel cost 2.5×.
 */
final class VectorInt8Kernel implements Int8Kernel {

    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    /** Bytes with as many lanes as {@link #INTS}: a quarter of its width. */
    private static final VectorSpecies<Byte> BYTES = VectorSpecies.of(byte.class, VectorShape.forBitSize(INTS.vectorBitSize() / 4));
    private static final int LANES = INTS.length();

    @Override
    public int cols() {
        return 2 * LANES;
    }

    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    /** 1.5·2^23: adding and subtracting it rounds a float of magnitude below 2^22 to an integer, half to even (IEEE default rounding). */
    private static final float ROUNDER = 12582912f;

    @Override
    public float absMax(MemorySegment x, long from, int n) {
        FloatVector m = FloatVector.zero(FLOATS);
        int i = 0;
        for (int end = FLOATS.loopBound(n); i < end; i += FLOATS.length()) {
            m = m.max(FloatVector.fromMemorySegment(FLOATS, x, (from + i) * Float.BYTES, ByteOrder.nativeOrder()).abs());
        }
        float amax = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            amax = Math.max(amax, Math.abs(x.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, from + i)));
        }
        return amax;
    }

    /**
     * Clamps {@code x/s} to {@code [lo − zp, hi − zp]} before rounding, which gives the same codes
     * as clamping after it (the bounds are integers) and keeps the rounding trick in its range.
     */
    @Override
    public void quantize(MemorySegment x, long from, int n, float s, int zp, int lo, int hi, int[] q, int q0) {
        float min = lo - zp;
        float max = hi - zp;
        int i = 0;
        for (int end = FLOATS.loopBound(n); i < end; i += FLOATS.length()) {
            FloatVector v = FloatVector.fromMemorySegment(FLOATS, x, (from + i) * Float.BYTES, ByteOrder.nativeOrder()).div(s).max(min).min(max);
            v = v.add(ROUNDER).sub(ROUNDER);
            ((IntVector) v.convertShape(VectorOperators.F2I, INTS, 0)).add(zp).intoArray(q, q0 + i);
        }
        for (; i < n; i++) {
            double v = Math.rint(x.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, from + i) / s) + zp;
            q[q0 + i] = (int) Math.max(lo, Math.min(hi, v));
        }
    }

    private static IntVector weights(byte[] w, int offset) {
        return (IntVector) ByteVector.fromArray(BYTES, w, offset).convertShape(VectorOperators.B2I, INTS, 0);
    }

    @Override
    public void panel(int[] x, int x0, int ldx, byte[] wp, int p0, int from, int to, int[] acc, int a0, int lda) {
        IntVector c00 = IntVector.zero(INTS), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        IntVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx, x4 = x3 + ldx, x5 = x4 + ldx;
        int step = 2 * LANES;
        for (int k = from, w = p0 + from * step; k < to; k++, w += step) {
            IntVector b0 = weights(wp, w), b1 = weights(wp, w + LANES);
            IntVector a = IntVector.broadcast(INTS, x[x0 + k]);
            c00 = c00.add(a.mul(b0)); c01 = c01.add(a.mul(b1));
            a = IntVector.broadcast(INTS, x[x1 + k]);
            c10 = c10.add(a.mul(b0)); c11 = c11.add(a.mul(b1));
            a = IntVector.broadcast(INTS, x[x2 + k]);
            c20 = c20.add(a.mul(b0)); c21 = c21.add(a.mul(b1));
            a = IntVector.broadcast(INTS, x[x3 + k]);
            c30 = c30.add(a.mul(b0)); c31 = c31.add(a.mul(b1));
            a = IntVector.broadcast(INTS, x[x4 + k]);
            c40 = c40.add(a.mul(b0)); c41 = c41.add(a.mul(b1));
            a = IntVector.broadcast(INTS, x[x5 + k]);
            c50 = c50.add(a.mul(b0)); c51 = c51.add(a.mul(b1));
        }
        c00.intoArray(acc, a0); c01.intoArray(acc, a0 + LANES);
        c10.intoArray(acc, a0 + lda); c11.intoArray(acc, a0 + lda + LANES);
        c20.intoArray(acc, a0 + 2 * lda); c21.intoArray(acc, a0 + 2 * lda + LANES);
        c30.intoArray(acc, a0 + 3 * lda); c31.intoArray(acc, a0 + 3 * lda + LANES);
        c40.intoArray(acc, a0 + 4 * lda); c41.intoArray(acc, a0 + 4 * lda + LANES);
        c50.intoArray(acc, a0 + 5 * lda); c51.intoArray(acc, a0 + 5 * lda + LANES);
    }
}
