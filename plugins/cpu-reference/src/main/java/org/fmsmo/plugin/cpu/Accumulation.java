package org.fmsmo.plugin.cpu;

import java.util.LinkedHashMap;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * How the accumulator behaves: exact, or emulating narrower hardware the way the original FMS
 * Model Optimizer's matmul kernels do. K is summed in chunks of {@code chunkSize} terms; each
 * chunk's partial sum {@code P} goes through
 * <ol>
 *   <li>{@code max_acc_bits = b}: saturation to {@code [−2^(b−1), 2^(b−1) − 1]} (MSB truncation);</li>
 *   <li>{@code truncate_lsb = t}: rounding away of the t low bits, {@code ((v + 2^(t−1)) >> t) << t}
 *       (half up, arithmetic shift);</li>
 * </ol>
 * and is then added to the running sum ({@code accumulate=truncate-then-add}, the original's
 * default: {@code acc += f(P)}), or the running sum itself is clamped and truncated after each
 * chunk ({@code accumulate=add-then-truncate}: {@code acc = f(acc + P)}).
 *
 * <p>The emulation applies to the sums of the int8 operands the engine multiplies. For
 * asymmetric inputs those are the unsigned codes shifted by −128 (what an s8 × s8 engine
 * computes); the zero point comes back afterwards as a per-row bias term, as in the original's
 * INT8 deploy layer.
 *
 * <p>An FP8 layer accumulates in FP32 instead. There {@code truncate_lsb = t} rounds away the t
 * low bits of the FP32 mantissa (0..23, half up in magnitude: the bit pattern plus
 * {@code 2^(t−1)}, then the t bits cleared, so a carry moves into the exponent), as the
 * original's float kernel does; saturation has no meaning for a float and is refused.
 *
 * @param chunkSize              K terms per chunk; 0 means one chunk of the whole row
 * @param maxAccBits             accumulator width, 2..32 (32: no saturation)
 * @param truncateLsb            low bits rounded away, 0..30
 * @param truncateThenAccumulate whether each chunk is truncated on its own before being added
 */
record Accumulation(int chunkSize, int maxAccBits, int truncateLsb, boolean truncateThenAccumulate) {

    /** Plain exact int32 accumulation. */
    static final Accumulation EXACT = new Accumulation(0, 32, 0, true);

    /** The backend options that set it, with their meaning (for messages and {@code fmsmo plugins}). */
    static final Map<String, String> OPTIONS = options();

    Accumulation {
        if (chunkSize < 0) {
            throw invalid("chunk_size", chunkSize, "0 (whole row) or a positive number of K terms");
        }
        if (maxAccBits < 2 || maxAccBits > 32) {
            throw invalid("max_acc_bits", maxAccBits, "2..32");
        }
        if (truncateLsb < 0 || truncateLsb > 30) {
            throw invalid("truncate_lsb", truncateLsb, "0..30");
        }
    }

    private static Map<String, String> options() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("chunk_size", "K terms per accumulation chunk (default 0: the whole row)");
        m.put("max_acc_bits", "integer accumulator width in bits; each chunk saturates to it (default 32; INT layers only)");
        m.put("truncate_lsb", "low bits of each chunk's sum rounded away, half up: of the int32 (0..30) or of the FP8 layers' FP32 mantissa (0..23); default 0");
        m.put("accumulate", "truncate-then-add (default) or add-then-truncate");
        return Map.copyOf(m);
    }

    /** Reads the options named in {@link #OPTIONS} (the provider has rejected unknown keys); bad values are errors naming what is accepted. */
    static Accumulation parse(Map<String, String> options) {
        String mode = options.getOrDefault("accumulate", "truncate-then-add");
        if (!mode.equals("truncate-then-add") && !mode.equals("add-then-truncate")) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "cpu-reference option accumulate: expected truncate-then-add or "
                    + "add-then-truncate, found '" + mode + "'");
        }
        return new Accumulation(integer(options, "chunk_size", 0), integer(options, "max_acc_bits", 32),
                integer(options, "truncate_lsb", 0), mode.equals("truncate-then-add"));
    }

    private static int integer(Map<String, String> options, String key, int fallback) {
        String v = options.get(key);
        if (v == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "cpu-reference option " + key + ": expected an integer, found '" + v + "'");
        }
    }

    private static FmsmoException invalid(String key, int value, String expected) {
        return new FmsmoException(ErrorCode.INVALID_ARGUMENT, "cpu-reference option " + key + ": expected " + expected + ", found " + value);
    }

    /** Whether results equal exact int32 sums (no saturation, no truncation; chunking alone changes nothing). */
    boolean exact() {
        return maxAccBits == 32 && truncateLsb == 0;
    }

    /** Saturation then LSB rounding of one value, in long so that neither step can wrap. */
    long limit(long v) {
        long hi = (1L << (maxAccBits - 1)) - 1;
        long clamped = Math.max(-hi - 1, Math.min(hi, v));
        if (truncateLsb == 0) {
            return clamped;
        }
        return ((clamped + (1L << (truncateLsb - 1))) >> truncateLsb) << truncateLsb;
    }

    /** The running sum after one more chunk with partial sum {@code partial}. */
    int add(int running, int partial) {
        long next = truncateThenAccumulate ? running + limit(partial) : limit((long) running + partial);
        return (int) next; // int32 register: wraps like the hardware it emulates
    }

    /** The FP32 accumulator's widest truncation: all 23 stored mantissa bits. */
    static final int FLOAT_MANTISSA_BITS = 23;

    /**
     * Refuses settings that mean nothing for an FP32 accumulator (a width to saturate to, more
     * low bits than the mantissa has), naming the layer.
     */
    void requireFloatAccumulator(String layer) {
        if (maxAccBits != 32) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cpu-reference option max_acc_bits=" + maxAccBits
                    + " saturates an integer accumulator; layer " + layer + " is FP8 with an FP32 accumulator (use truncate_lsb=0.."
                    + FLOAT_MANTISSA_BITS + " to narrow its mantissa)");
        }
        if (truncateLsb > FLOAT_MANTISSA_BITS) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cpu-reference option truncate_lsb: layer " + layer
                    + " accumulates in FP32, whose mantissa has " + FLOAT_MANTISSA_BITS + " bits; found " + truncateLsb);
        }
    }

    /** An FP32 value with the {@code truncate_lsb} low mantissa bits rounded away (half up in magnitude). */
    float roundMantissa(float v) {
        if (truncateLsb == 0 || !Float.isFinite(v)) {
            return v;
        }
        int bits = Float.floatToRawIntBits(v) + (1 << (truncateLsb - 1));
        return Float.intBitsToFloat(bits & -(1 << truncateLsb));
    }

    /** The FP32 running sum after one more chunk with partial sum {@code partial}. */
    float add(float running, float partial) {
        return truncateThenAccumulate ? running + roundMantissa(partial) : roundMantissa(running + partial);
    }

    @Override
    public String toString() {
        return exact() ? "exact" : "chunk_size=" + chunkSize + " max_acc_bits=" + maxAccBits + " truncate_lsb=" + truncateLsb
                + " accumulate=" + (truncateThenAccumulate ? "truncate-then-add" : "add-then-truncate");
    }
}
