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
        for (Int8Kernel kernel : new Int8Kernel[] {Int8Kernel.BEST, new Int8Kernel.Scalar(16)}) {
            assertEquals(32768, GemmCalls.multiply(x, 1, w, 1, 4, separate, kernel)[0]);
            assertEquals(16384, GemmCalls.multiply(x, 1, w, 1, 4, running, kernel)[0]);
            assertEquals(40000, GemmCalls.multiply(x, 1, w, 1, 4, Accumulation.EXACT, kernel)[0]);
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
                int[] acc = GemmCalls.multiply(x, tokens, w, out, in, a, Int8Kernel.BEST);
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

    /**
     * FP32 mantissa rounding, worked by hand with truncate_lsb = 20 (3 mantissa bits kept):
     * 1.0625 = 1 + 2^−4 has mantissa bit 19 set; adding 2^19 carries into bit 20, giving
     * 1 + 2^−3 = 1.125 (half rounds up in magnitude, so −1.0625 → −1.125); 1.03 → 1.0;
     * 1.9375 = 1 + 15/16 carries into the exponent: 2.0. With chunks of 2 over the terms
     * {1, 0.0625, 1, 0.0625}: truncate-then-add sums 1.125 + 1.125 = 2.25; add-then-truncate
     * rounds 1.0625 → 1.125, then 1.125 + 1.0625 = 2.1875 = 2·(1 + 3/32) → 2·1.125 = 2.25, so
     * both give 2.25 here; 0.0625 alone stays exact.
     */
    @Test
    void fp32MantissaRoundingWorkedByHand() {
        Accumulation a = Accumulation.parse(Map.of("chunk_size", "2", "truncate_lsb", "20"));
        assertEquals(1.125f, a.roundMantissa(1.0625f));
        assertEquals(-1.125f, a.roundMantissa(-1.0625f));
        assertEquals(1.0f, a.roundMantissa(1.03f));
        assertEquals(2.0f, a.roundMantissa(1.9375f));
        assertEquals(0.0625f, a.roundMantissa(0.0625f));
        assertEquals(Float.POSITIVE_INFINITY, a.roundMantissa(Float.POSITIVE_INFINITY));
        float[] x = {1f, 0.0625f, 1f, 0.0625f};
        float[] w = {1f, 1f, 1f, 1f};
        assertEquals(2.25f, Fp8Gemm.multiply(x, 1, w, 1, 4, a)[0]);
        Accumulation running = Accumulation.parse(Map.of("chunk_size", "2", "truncate_lsb", "20", "accumulate", "add-then-truncate"));
        assertEquals(2.25f, Fp8Gemm.multiply(x, 1, w, 1, 4, running)[0]);
        // where the two modes differ: three chunks of 1.0625. Separately: 3 × 1.125 = 3.375.
        // Running: 1.125, 2.25, then 3.3125 = 2·(1 + 0.65625); 0.65625 is 5.25 eighths → 5 → 2·1.625 = 3.25
        float[] x3 = {1f, 0.0625f, 1f, 0.0625f, 1f, 0.0625f};
        float[] w3 = {1f, 1f, 1f, 1f, 1f, 1f};
        assertEquals(3.375f, Fp8Gemm.multiply(x3, 1, w3, 1, 6, a)[0]);
        assertEquals(3.25f, Fp8Gemm.multiply(x3, 1, w3, 1, 6, running)[0]);
    }

    /**
     * The FP8 path on e4m3 values that are small integers, so every FP32 sum is exact and the
     * only rounding is the emulated accumulator's: compared with long sums per chunk, rounded
     * with the same rule written out in integers (round the value to 24 − t significant bits, half up in magnitude).
     */
    @Test
    void fp8ChunksEqualExactSumsRoundedPerChunk() {
        Random rng = new Random(4);
        int tokens = 5, in = 200, out = 7;
        float[] x = new float[tokens * in];
        float[] w = new float[out * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(33) - 16; // integers up to 16 are e4m3 values
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = rng.nextInt(33) - 16;
        }
        for (String[] st : new String[][] {{"16", "10"}, {"64", "18"}, {"0", "12"}, {"7", "23"}}) {
            for (String mode : new String[] {"truncate-then-add", "add-then-truncate"}) {
                Accumulation a = Accumulation.parse(Map.of("chunk_size", st[0], "truncate_lsb", st[1], "accumulate", mode));
                float[] acc = Fp8Gemm.multiply(x, tokens, w, out, in, a);
                int chunk = a.chunkSize() == 0 ? in : a.chunkSize();
                for (int r = 0; r < tokens; r++) {
                    for (int o = 0; o < out; o++) {
                        long sum = 0;
                        for (int k0 = 0; k0 < in; k0 += chunk) {
                            long p = 0;
                            for (int k = k0; k < Math.min(in, k0 + chunk); k++) {
                                p += (long) x[r * in + k] * (long) w[o * in + k];
                            }
                            sum = mode.equals("truncate-then-add") ? sum + keepSignificantBits(p, 24 - a.truncateLsb())
                                    : keepSignificantBits(sum + p, 24 - a.truncateLsb());
                        }
                        assertEquals((float) sum, acc[r * out + o], a + " [" + r + "][" + o + "]");
                    }
                }
            }
        }
    }

    /** An integer rounded to {@code bits} significant binary digits, ties away from zero. */
    private static long keepSignificantBits(long v, int bits) {
        long mag = Math.abs(v);
        int length = 64 - Long.numberOfLeadingZeros(mag);
        if (length <= bits) {
            return v;
        }
        long unit = 1L << (length - bits);
        long rounded = (mag + unit / 2) / unit * unit;
        return v < 0 ? -rounded : rounded;
    }

    @Test
    void fp8LayersRefuseIntegerOnlySettings() {
        Accumulation width = Accumulation.parse(Map.of("max_acc_bits", "16"));
        FmsmoException e = assertThrows(FmsmoException.class, () -> width.requireFloatAccumulator("layers.0.q"));
        assertEquals(ErrorCode.UNSUPPORTED_SPEC, e.code());
        assertTrue(e.getMessage().contains("layers.0.q") && e.getMessage().contains("truncate_lsb=0..23"), e.getMessage());
        Accumulation wide = Accumulation.parse(Map.of("truncate_lsb", "24"));
        FmsmoException bits = assertThrows(FmsmoException.class, () -> wide.requireFloatAccumulator("layers.0.q"));
        assertTrue(bits.getMessage().contains("23 bits") && bits.getMessage().contains("24"), bits.getMessage());
    }

    @Test
    void badOptionsNameWhatIsAccepted() {
        FmsmoException unknown = assertThrows(FmsmoException.class, () -> new CpuReferenceProvider().create(Map.of("acc_bits", "16")));
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
