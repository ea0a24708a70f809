package org.fmsmo.api.quant;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Collectors;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.Stable;

/**
 * What a quantizer produces: number format, bits, symmetry, granularity and where the range comes
 * from. Immutable and validated on construction.
 *
 * <p>Text form (for CLI options and listings), parts joined by {@code -} in any order after the
 * type: {@code int4-sym-group128-minmax}, {@code int8-asym-channel}, {@code fp8_e4m3-token-dynamic}.
 * The type is {@code int2} … {@code int8}, {@code fp8} (= {@code fp8_e4m3}) or {@code fp8_e5m2};
 * omitted parts take the defaults of {@link #of(QuantType, int)}.
 *
 * @param type        INT or an FP8 type; not null
 * @param bits        2–8 for INT; 8 for FP8
 * @param symmetric   symmetric grid around 0 (no zero point); FP8 is always symmetric
 * @param granularity which elements share a scale; not null
 * @param groupSize   columns per group, {@code > 0} exactly when {@code granularity} is GROUP, else 0
 * @param rangeSource how the clip range is found; not null. {@link Granularity#TOKEN} requires
 *                    {@link RangeSource#DYNAMIC}
 */
@Stable(since = "1.0")
public record QuantSpec(QuantType type, int bits, boolean symmetric, Granularity granularity, int groupSize,
                        RangeSource rangeSource) {

    /** Smallest integer bit width supported. */
    public static final int MIN_INT_BITS = 2;
    /** Largest integer bit width supported. */
    public static final int MAX_INT_BITS = 8;

    /** Validates the combination; messages name the field, the bad value and the allowed values. */
    public QuantSpec {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(granularity, "granularity");
        Objects.requireNonNull(rangeSource, "rangeSource");
        if (type == QuantType.INT && (bits < MIN_INT_BITS || bits > MAX_INT_BITS)) {
            throw invalid("bits", bits, "an integer from " + MIN_INT_BITS + " to " + MAX_INT_BITS + " for INT");
        }
        if (type.isFloat() && bits != 8) {
            throw invalid("bits", bits, "8 for " + type);
        }
        if (type.isFloat() && !symmetric) {
            throw invalid("symmetric", false, "true for " + type + " (FP8 grids have no zero point)");
        }
        if (granularity == Granularity.GROUP && groupSize <= 0) {
            throw invalid("groupSize", groupSize, "a positive column count for GROUP granularity");
        }
        if (granularity != Granularity.GROUP && groupSize != 0) {
            throw invalid("groupSize", groupSize, "0 unless granularity is GROUP (granularity is " + granularity + ")");
        }
        if ((granularity == Granularity.TOKEN) != (rangeSource == RangeSource.DYNAMIC)) {
            throw invalid("rangeSource", rangeSource, "DYNAMIC exactly when granularity is TOKEN (granularity is " + granularity + ")");
        }
    }

    /** Symmetric per-tensor min/max spec of the given type and bits. */
    public static QuantSpec of(QuantType type, int bits) {
        return new QuantSpec(type, bits, true, Granularity.TENSOR, 0, RangeSource.MINMAX);
    }

    /** Symmetric per-tensor INT spec. */
    public static QuantSpec intSymmetric(int bits) {
        return of(QuantType.INT, bits);
    }

    /** This spec with another granularity ({@code groupSize} 0) and, for TOKEN, a dynamic range. */
    public QuantSpec withGranularity(Granularity g) {
        if (g == Granularity.GROUP) {
            throw invalid("granularity", g, "TENSOR, CHANNEL or TOKEN here; use withGroupSize(n) for groups");
        }
        RangeSource r = g == Granularity.TOKEN ? RangeSource.DYNAMIC
                : rangeSource == RangeSource.DYNAMIC ? RangeSource.MINMAX : rangeSource;
        return new QuantSpec(type, bits, symmetric, g, 0, r);
    }

    /** This spec with groups of {@code n} input columns. */
    public QuantSpec withGroupSize(int n) {
        RangeSource r = rangeSource == RangeSource.DYNAMIC ? RangeSource.MINMAX : rangeSource;
        return new QuantSpec(type, bits, symmetric, Granularity.GROUP, n, r);
    }

    /** This spec made symmetric or asymmetric. */
    public QuantSpec withSymmetric(boolean sym) {
        return new QuantSpec(type, bits, sym, granularity, groupSize, rangeSource);
    }

    /** This spec with another range source. */
    public QuantSpec withRangeSource(RangeSource r) {
        return new QuantSpec(type, bits, symmetric, granularity, groupSize, r);
    }

    /** Number of integer levels ({@code 2^bits}); for FP8 the number of codes, 256. */
    public int levels() {
        return 1 << bits;
    }

    /**
     * Parses the text form described in the class comment.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} naming the bad part and the allowed ones
     */
    public static QuantSpec parse(String text) {
        Objects.requireNonNull(text, "text");
        String[] parts = text.trim().toLowerCase(Locale.ROOT).split("-");
        QuantType type;
        int bits;
        String head = parts[0];
        if (head.equals("fp8") || head.equals("fp8_e4m3")) {
            type = QuantType.FP8_E4M3;
            bits = 8;
        } else if (head.equals("fp8_e5m2")) {
            type = QuantType.FP8_E5M2;
            bits = 8;
        } else if (head.matches("int\\d+")) {
            type = QuantType.INT;
            bits = Integer.parseInt(head.substring(3));
        } else {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "bad quant spec '" + text + "': expected it to start with int2 … int8, fp8, fp8_e4m3 or fp8_e5m2, found '" + head + "'");
        }
        boolean symmetric = true;
        Granularity granularity = Granularity.TENSOR;
        int groupSize = 0;
        RangeSource range = null;
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i];
            switch (p) {
                case "sym" -> symmetric = true;
                case "asym" -> symmetric = false;
                case "tensor" -> granularity = Granularity.TENSOR;
                case "channel" -> granularity = Granularity.CHANNEL;
                case "token" -> granularity = Granularity.TOKEN;
                default -> {
                    if (p.matches("(g|group)\\d+")) {
                        granularity = Granularity.GROUP;
                        groupSize = Integer.parseInt(p.replaceAll("\\D", ""));
                    } else {
                        range = rangeSource(p, text);
                    }
                }
            }
        }
        if (range == null) {
            range = granularity == Granularity.TOKEN ? RangeSource.DYNAMIC : RangeSource.MINMAX;
        }
        return new QuantSpec(type, bits, symmetric, granularity, groupSize, range);
    }

    private static RangeSource rangeSource(String p, String text) {
        for (RangeSource r : RangeSource.values()) {
            if (r.name().toLowerCase(Locale.ROOT).equals(p)) {
                return r;
            }
        }
        String ranges = Arrays.stream(RangeSource.values()).map(r -> r.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", "));
        throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "bad quant spec '" + text + "': unknown part '" + p
                + "'; expected sym, asym, tensor, channel, token, group<N>, or a range source (" + ranges + ")");
    }

    /** The canonical text form, e.g. {@code int4-sym-group128-minmax}; {@link #parse} reads it back. */
    @Override
    public String toString() {
        String head = switch (type) {
            case INT -> "int" + bits;
            case FP8_E4M3 -> "fp8_e4m3";
            case FP8_E5M2 -> "fp8_e5m2";
        };
        String g = granularity == Granularity.GROUP ? "group" + groupSize : granularity.name().toLowerCase(Locale.ROOT);
        return head + "-" + (symmetric ? "sym" : "asym") + "-" + g + "-" + rangeSource.name().toLowerCase(Locale.ROOT);
    }

    private static FmsmoException invalid(String field, Object found, String expected) {
        return new FmsmoException(ErrorCode.INVALID_ARGUMENT,
                "QuantSpec." + field + ": expected " + expected + ", found " + found);
    }
}
