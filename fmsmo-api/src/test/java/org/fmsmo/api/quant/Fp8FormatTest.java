package org.fmsmo.api.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * FP8 conversions against the format definitions, independently of the codec: decoded values are
 * checked against known constants, and encoding is checked against a brute-force search for the
 * nearest representable value (ties to the even code).
 */
class Fp8FormatTest {

    @Test
    void knownE4m3Values() {
        Fp8Format f = Fp8Format.E4M3;
        assertEquals(448f, f.decode((byte) 0x7E));
        assertTrue(Float.isNaN(f.decode((byte) 0x7F)));
        assertTrue(Float.isNaN(f.decode((byte) 0xFF)));
        assertEquals(0x1p-9f, f.decode((byte) 0x01), "smallest subnormal");
        assertEquals(0x1p-6f, f.decode((byte) 0x08), "smallest normal");
        assertEquals(1f, f.decode((byte) 0x38));
        assertEquals(-2.5f, f.decode((byte) 0xC2));
        assertEquals(-0f, f.decode((byte) 0x80));
    }

    @Test
    void knownE5m2Values() {
        Fp8Format f = Fp8Format.E5M2;
        assertEquals(57344f, f.decode((byte) 0x7B));
        assertEquals(Float.POSITIVE_INFINITY, f.decode((byte) 0x7C));
        assertEquals(Float.NEGATIVE_INFINITY, f.decode((byte) 0xFC));
        assertTrue(Float.isNaN(f.decode((byte) 0x7D)));
        assertEquals(0x1p-16f, f.decode((byte) 0x01));
        assertEquals(1f, f.decode((byte) 0x3C));
    }

    /** Every finite code encodes back to itself. */
    @ParameterizedTest
    @EnumSource(Fp8Format.class)
    void everyCodeRoundTrips(Fp8Format f) {
        for (int code = 0; code < 256; code++) {
            float v = f.decode((byte) code);
            if (Float.isNaN(v)) {
                assertTrue(Float.isNaN(f.decode(f.encode(v, false))));
                continue;
            }
            assertEquals(code, f.encode(v, false) & 0xFF, "code 0x" + Integer.toHexString(code) + " = " + v);
        }
    }

    /** Midpoints between neighbours round to the even code; points just off them round to the nearer one. */
    @ParameterizedTest
    @EnumSource(Fp8Format.class)
    void midpointsRoundToEvenAndOthersToNearest(Fp8Format f) {
        List<Integer> finite = finitePositiveCodesAscending(f);
        for (int i = 0; i + 1 < finite.size(); i++) {
            int lo = finite.get(i);
            int hi = finite.get(i + 1);
            double a = f.decode((byte) lo);
            double b = f.decode((byte) hi);
            float mid = (float) ((a + b) / 2); // exact: FP8 midpoints are representable in float
            int even = (lo & 1) == 0 ? lo : hi;
            assertEquals(even, f.encode(mid, false) & 0xFF, "midpoint " + mid);
            assertEquals(0x80 | even, f.encode(-mid, false) & 0xFF, "negative midpoint " + (-mid));
            assertEquals(lo, f.encode(Math.nextDown(mid), false) & 0xFF);
            assertEquals(hi, f.encode(Math.nextUp(mid), false) & 0xFF);
        }
    }

    @Test
    void overflowSaturatesOrBecomesNaNOrInfinity() {
        assertEquals(0x7E, Fp8Format.E4M3.encode(464f, false) & 0xFF, "464 is the tie between 448 and 480: even is 448");
        assertEquals(0x7F, Fp8Format.E4M3.encode(465f, false) & 0xFF, "beyond: NaN, e4m3fn has no infinity");
        assertEquals(0x7E, Fp8Format.E4M3.encode(1e9f, true) & 0xFF);
        assertEquals(0xFE, Fp8Format.E4M3.encode(Float.NEGATIVE_INFINITY, true) & 0xFF);
        assertEquals(0x7C, Fp8Format.E5M2.encode(61440f, false) & 0xFF, "tie between max and 2^16 rounds to even: infinity");
        assertEquals(0x7B, Fp8Format.E5M2.encode(61439f, false) & 0xFF);
        assertEquals(0x7B, Fp8Format.E5M2.encode(1e9f, true) & 0xFF);
        assertEquals(0x00, Fp8Format.E4M3.encode(0x1p-11f, false) & 0xFF, "a quarter of the smallest subnormal rounds to 0");
        assertEquals(0x01, Fp8Format.E4M3.encode(0x1.8p-10f, false) & 0xFF, "three quarters rounds up");
    }

    /** A brute-force nearest search over random floats agrees with the codec. */
    @ParameterizedTest
    @EnumSource(Fp8Format.class)
    void randomValuesMatchBruteForceNearest(Fp8Format f) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        List<Integer> finite = finitePositiveCodesAscending(f);
        for (int i = 0; i < 20_000; i++) {
            float x = (float) (Math.scalb(r.nextDouble(), r.nextInt(-20, 17)) * (r.nextBoolean() ? 1 : -1));
            double ax = Math.abs(x);
            int best = finite.get(0);
            for (int c : finite) {
                double d = Math.abs(f.decode((byte) c) - ax);
                double bd = Math.abs(f.decode((byte) best) - ax);
                if (d < bd || (d == bd && (c & 1) == 0)) {
                    best = c;
                }
            }
            if (ax > f.max()) {
                best = f == Fp8Format.E4M3 ? 0x7E : 0x7B; // with saturation
            }
            int expected = (x < 0 ? 0x80 : 0) | best;
            assertEquals(expected, f.encode(x, true) & 0xFF, "x = " + x);
        }
    }

    private static List<Integer> finitePositiveCodesAscending(Fp8Format f) {
        List<Integer> codes = new ArrayList<>();
        for (int c = 0; c < 0x80; c++) {
            float v = f.decode((byte) c);
            if (Float.isFinite(v)) {
                codes.add(c);
            }
        }
        codes.sort((a, b) -> Float.compare(f.decode((byte) (int) a), f.decode((byte) (int) b)));
        return codes;
    }
}
