package org.fmsmo.plugin.cpu;

/**
 * Work arrays kept per thread and grown as needed: a layer's input codes and int32 accumulators
 * are several MB per call at a few hundred tokens, and allocating them anew each time puts that
 * much on the Java heap per layer (zeroed, and as humongous objects beyond half a G1 region).
 * Their contents are left from the last call; every user overwrites what it reads.
 */
final class Scratch {

    private static final ThreadLocal<Scratch> LOCAL = ThreadLocal.withInitial(Scratch::new);

    private int[] codes = new int[0];
    private int[] accumulators = new int[0];

    private Scratch() {
    }

    /** At least {@code n} ints for input codes, valid until this thread asks again. */
    static int[] codes(int n) {
        Scratch s = LOCAL.get();
        if (s.codes.length < n) {
            s.codes = new int[n];
        }
        return s.codes;
    }

    /** At least {@code n} ints for accumulators, valid until this thread asks again. */
    static int[] accumulators(int n) {
        Scratch s = LOCAL.get();
        if (s.accumulators.length < n) {
            s.accumulators = new int[n];
        }
        return s.accumulators;
    }
}
