package org.fmsmo.api.quant;

import java.util.Optional;
import org.fmsmo.api.Stable;

/** The number format of quantized values. */
@Stable(since = "1.0")
public enum QuantType {
    /** Integers on a uniform grid of {@code 2^bits} levels with a scale (and a zero point when asymmetric). */
    INT(null),
    /** FP8 e4m3 (max 448) with a scale. */
    FP8_E4M3(Fp8Format.E4M3),
    /** FP8 e5m2 (max 57344) with a scale. */
    FP8_E5M2(Fp8Format.E5M2);

    private final Fp8Format fp8;

    QuantType(Fp8Format fp8) {
        this.fp8 = fp8;
    }

    /** The FP8 format for the FP8 types, empty for {@link #INT}. */
    public Optional<Fp8Format> fp8Format() {
        return Optional.ofNullable(fp8);
    }

    /** Whether this is a floating-point type. */
    public boolean isFloat() {
        return fp8 != null;
    }
}
