package org.fmsmo.api.quant;

import org.fmsmo.api.Stable;

/**
 * The two 8-bit floating-point formats of the OCP FP8 specification, with bit-exact conversion.
 * Codes are the raw bytes. Conversion from {@code float} rounds to the nearest representable value,
 * ties to even, with subnormals. Thread-safe.
 */
@Stable(since = "1.0")
public enum Fp8Format {
    /** 1 sign, 4 exponent bits (bias 7), 3 mantissa bits; max 448; no infinities; NaN = S.1111.111 ("e4m3fn"). */
    E4M3(4, 3, 7, 448f, false),
    /** 1 sign, 5 exponent bits (bias 15), 2 mantissa bits; max 57344; IEEE infinities and NaNs. */
    E5M2(5, 2, 15, 57344f, true);

    private final int exponentBits;
    private final int mantissaBits;
    private final int bias;
    private final float max;
    /** IEEE-style (e5m2: all-ones exponent is ∞/NaN) or "fn" style (e4m3: only S.1111.111 is NaN). */
    private final boolean ieeeSpecials;
    private final float[] decodeTable = new float[256];

    // The table is filled in the constructor, where the enum constants are not assigned yet: the
    // code below must use fields, never compare `this` with a constant.
    Fp8Format(int exponentBits, int mantissaBits, int bias, float max, boolean ieeeSpecials) {
        this.exponentBits = exponentBits;
        this.mantissaBits = mantissaBits;
        this.bias = bias;
        this.max = max;
        this.ieeeSpecials = ieeeSpecials;
        for (int code = 0; code < 256; code++) {
            decodeTable[code] = decodeSlow(code);
        }
    }

    /** The largest finite magnitude (448 or 57344). */
    public float max() {
        return max;
    }

    /** The number of mantissa bits (3 or 2). */
    public int mantissaBits() {
        return mantissaBits;
    }

    /** The value of an FP8 code; NaN codes give {@code NaN}, E5M2 infinity codes give ±∞. */
    public float decode(byte code) {
        return decodeTable[code & 0xFF];
    }

    /**
     * Converts to the nearest FP8 code, ties to even.
     *
     * @param x        any float
     * @param saturate when true, finite values beyond {@link #max()} and infinities become ±max;
     *                 when false they overflow to ∞ (E5M2) or NaN (E4M3, which has no ∞)
     * @return the code; NaN input gives the NaN code with the input's sign
     */
    public byte encode(float x, boolean saturate) {
        int sign = (Float.floatToRawIntBits(x) >>> 24) & 0x80;
        if (Float.isNaN(x)) {
            return (byte) (sign | 0x7F);
        }
        double a = Math.abs((double) x);
        int maxCode = maxFiniteCode();
        if (Double.isInfinite(a)) {
            return (byte) (sign | (saturate ? maxCode : overflowCode()));
        }
        int minNormalExponent = 1 - bias;
        int e = a == 0 ? minNormalExponent : Math.max(Math.getExponent(a), minNormalExponent);
        // Below the normal range the quantum is fixed (subnormals); rint is round-half-even and the
        // division by a power of two is exact, so this is exact rounding.
        double quantum = Math.scalb(1.0, e - mantissaBits);
        double q = Math.rint(a / quantum);
        double rounded = q * quantum;
        if (rounded > max) {
            return (byte) (sign | (saturate ? maxCode : overflowCode()));
        }
        int code;
        if (q < (1 << mantissaBits)) {
            code = (int) q; // subnormal (or zero): exponent field 0
        } else {
            if (q >= (2 << mantissaBits)) { // rounding carried into the next binade
                q /= 2;
                e += 1;
            }
            code = ((e + bias) << mantissaBits) | ((int) q - (1 << mantissaBits));
        }
        return (byte) (sign | code);
    }

    /** Rounds {@code x} to the nearest FP8 value and returns it as a float ({@code decode(encode(x, saturate))}). */
    public float round(float x, boolean saturate) {
        return decode(encode(x, saturate));
    }

    private int maxFiniteCode() {
        int allOnesExponent = ((1 << exponentBits) - 1) << mantissaBits;
        // e5m2: largest mantissa below the all-ones exponent; e4m3fn: all ones but the last mantissa bit.
        return ieeeSpecials ? allOnesExponent - 1 : allOnesExponent | ((1 << mantissaBits) - 2);
    }

    private int overflowCode() {
        return ieeeSpecials ? ((1 << exponentBits) - 1) << mantissaBits : 0x7F; // +inf for e5m2, NaN for e4m3fn
    }

    private float decodeSlow(int code) {
        int sign = (code & 0x80) != 0 ? -1 : 1;
        int exponentField = (code >>> mantissaBits) & ((1 << exponentBits) - 1);
        int mantissa = code & ((1 << mantissaBits) - 1);
        int allOnes = (1 << exponentBits) - 1;
        if (!ieeeSpecials && exponentField == allOnes && mantissa == (1 << mantissaBits) - 1) {
            return Float.NaN;
        }
        if (ieeeSpecials && exponentField == allOnes) {
            return mantissa == 0 ? sign * Float.POSITIVE_INFINITY : Float.NaN;
        }
        if (exponentField == 0) {
            return (float) (sign * Math.scalb((double) mantissa, 1 - bias - mantissaBits));
        }
        double significand = 1.0 + mantissa / (double) (1 << mantissaBits);
        return (float) (sign * Math.scalb(significand, exponentField - bias));
    }
}
