package org.fmsmo.plugin.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The Vector API dot kernel against an exact long sum, on every tail length and the extreme codes. */
class Int8DotTest {

    @Test
    void vectorKernelIsExact() {
        boolean present = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        System.out.println("int8 dot kernel: " + Int8Dot.kernelName() + (present ? "" : " (jdk.incubator.vector absent: vector kernel not tested)"));
        assumeTrue(present, "jdk.incubator.vector is not in this JVM");
        Int8Dot vector = new VectorInt8Dot();
        Random rng = new Random(11);
        for (int n = 0; n < 300; n += n < 140 ? 1 : 37) {
            byte[] a = new byte[n + 5];
            byte[] b = new byte[n + 3];
            for (int i = 0; i < a.length; i++) {
                a[i] = (byte) (rng.nextInt(256) - 128);
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) (rng.nextInt(256) - 128);
            }
            long ref = 0;
            for (int k = 0; k < n; k++) {
                ref += (long) a[5 + k] * b[3 + k];
            }
            assertEquals(ref, vector.dot(a, 5, b, 3, n), "n = " + n);
        }
        byte[] extreme = new byte[4096];
        java.util.Arrays.fill(extreme, (byte) -128);
        assertEquals(4096L * 128 * 128, vector.dot(extreme, 0, extreme, 0, 4096), "−128·−128 summed 4096 times");
        assertEquals("vector", Int8Dot.kernelName(), "with the module present the vector kernel is chosen");
    }
}
