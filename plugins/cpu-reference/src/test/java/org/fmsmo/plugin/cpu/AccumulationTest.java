package org.fmsmo.plugin.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.junit.jupiter.api.Test;

/** Accumulator emulation: a case worked by hand, then the tiled GEMM against a plain loop of the same rules. */
class AccumulationTest {

    /**
     * K = 4 products of 100·100 in chunks of 2: each chunk sums to 20000. With 15 bits it saturates
     * to 16383, and rounding away 4 low bits gives (16383 + 8) >> 4 << 4 = 16384.
     * Truncate-then-add: 16384 + 16384 = 32768. Add-then-truncate: f(16384 + 20000) = 16384.
     */
    @Test
    void handWorkedCase() {
        int[] x = {100, 100, 100, 100};
        byte[] w = {100, 100, 100, 100};
        Accumulation separate = Accumulation.parse(Map.of("chunk_size", "2", "max_acc_bits", "15", "truncate_lsb", "4"));
        Accumulation running = Accumulation.parse(Map.of("chunk_size", "2", "max_acc_bits", "15", "truncate_lsb", "4",
                "accumulate", "add-then-truncate"));
        for (Int8Kernel kernel : new Int8Kernel[] {Int8Kernel.BEST, new Int8Kernel.Scalar()}) {
            assertEquals(32768, Int8Gemm.multiply(x, 1, w, 1, 4, separate, kernel)[0]);
            assertEquals(16384, Int8Gemm.multiply(x, 1, w, 1, 4, running, kernel)[0]);
            assertEquals(40000, Int8Gemm.multiply(x, 1, w, 1, 4, Accumulation.EXACT, kernel)[0]);
        }
        // negative sums saturate at −2^14 and round half up: (−16384 + 8) >> 4 << 4 = −16384
        assertEquals(-16384, separate.limit(-20000));
        assertEquals(-16, separate.limit(-24));  // −24 + 8 = −16 → −1 · 16
        assertEquals(-16, separate.limit(-9));   // −9 + 8 = −1 → −1 · 16 (arithmetic shift floors)
        assertEquals(0, separate.limit(-8));     // −8 + 8 = 0
    }

    /** Random layers with edges, both modes, several widths: the tiled path equals element-by-element emulation. */
    @Test
    void tiledGemmEqualsPlainEmulation() {
        Random rng = new Random(9);
        String[][] settings = {{"16", "18", "0"}, {"32", "20", "3"}, {"7", "32", "6"}, {"0", "19", "2"}, {"64", "24", "8"}};
        for (String[] st : settings) {
            for (String mode : new String[] {"truncate-then-add", "add-then-truncate"}) {
                Accumulation a = Accumulation.parse(Map.of("chunk_size", st[0], "max_acc_bits", st[1], "truncate_lsb", st[2], "accumulate", mode));
                int tokens = 9, in = 150, out = 11;
                int[] x = new int[tokens * in];
                byte[] w = new byte[out * in];
                for (int i = 0; i < x.length; i++) {
                    x[i] = rng.nextInt(256) - 128;
                }
                for (int i = 0; i < w.length; i++) {
                    w[i] = (byte) (rng.nextInt(255) - 127);
                }
                int[] acc = Int8Gemm.multiply(x, tokens, w, out, in, a, Int8Kernel.BEST);
                int chunk = a.chunkSize() == 0 ? in : a.chunkSize();
                long hi = (1L << (a.maxAccBits() - 1)) - 1;
                int t = a.truncateLsb();
                for (int r = 0; r < tokens; r++) {
                    for (int o = 0; o < out; o++) {
                        long sum = 0;
                        for (int k0 = 0; k0 < in; k0 += chunk) {
                            long p = 0;
                            for (int k = k0; k < Math.min(in, k0 + chunk); k++) {
                                p += (long) x[r * in + k] * w[o * in + k];
                            }
                            long v = mode.equals("truncate-then-add") ? p : sum + p;
                            v = Math.max(-hi - 1, Math.min(hi, v));
                            v = t == 0 ? v : Math.floorDiv(v + (1L << (t - 1)), 1L << t) * (1L << t);
                            sum = mode.equals("truncate-then-add") ? sum + v : v;
                        }
                        assertEquals(sum, acc[r * out + o], a + " [" + r + "][" + o + "]");
                    }
                }
            }
        }
    }

    @Test
    void badOptionsNameWhatIsAccepted() {
        FmsmoException unknown = assertThrows(FmsmoException.class, () -> Accumulation.parse(Map.of("acc_bits", "16")));
        assertEquals(ErrorCode.INVALID_ARGUMENT, unknown.code());
        assertTrue(unknown.getMessage().contains("acc_bits") && unknown.getMessage().contains("max_acc_bits"), unknown.getMessage());
        FmsmoException range = assertThrows(FmsmoException.class, () -> Accumulation.parse(Map.of("max_acc_bits", "40")));
        assertTrue(range.getMessage().contains("2..32") && range.getMessage().contains("40"), range.getMessage());
        FmsmoException text = assertThrows(FmsmoException.class, () -> Accumulation.parse(Map.of("chunk_size", "big")));
        assertTrue(text.getMessage().contains("integer") && text.getMessage().contains("big"), text.getMessage());
        FmsmoException mode = assertThrows(FmsmoException.class, () -> Accumulation.parse(Map.of("accumulate", "sometimes")));
        assertTrue(mode.getMessage().contains("add-then-truncate"), mode.getMessage());
    }
}
