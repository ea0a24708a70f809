package org.fmsmo.core.cli;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import picocli.CommandLine.Option;

/**
 * {@code --bits}, {@code --group-size} and {@code --sym/--asym}, the weight grid of the
 * weight-only INT methods: the weight spec and grid mode they set (INT4 in groups of 128,
 * symmetric on the full grid, by default). A mixin of {@code quantize} and {@code sensitivity}.
 */
final class WeightGrid {

    @Option(names = "--bits", paramLabel = "N", description = "Weight bits for gptq, awq, awq+gptq and rtn (default 4): integer grid, with --group-size and --sym/--asym.")
    Integer bits;

    @Option(names = "--group-size", paramLabel = "N", description = "Input columns per scale for gptq, awq and rtn (default 128; -1: one scale per output channel).")
    Integer groupSize;

    @Option(names = "--asym", description = "Asymmetric weight grid with zero points (default: symmetric, the full grid).")
    boolean asym;

    @Option(names = "--sym", description = "Symmetric weight grid (the default).")
    boolean sym;

    /** The methods these flags apply to (rtn's default stays the recipe's unless a flag is given). */
    static final Set<String> METHODS = new TreeSet<>(List.of("gptq", "rtn", "awq", "awq+gptq"));

    /**
     * Puts {@code qw_spec}, {@code qw_mode}, {@code nbits_w} and (weight-only unless
     * {@code activationsSet}) {@code nbits_a = 32} into {@code o}.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} for a bad value, both --sym and --asym,
     *         or grid flags given to a method they do not apply to
     */
    void put(Map<String, Object> o, String method, boolean activationsSet) {
        if (sym && asym) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--sym and --asym exclude each other");
        }
        boolean intWeights = METHODS.contains(method);
        if (intWeights && (bits != null || groupSize != null || asym || sym || !method.equals("rtn"))) {
            int b = bits();
            if (b < 2 || b > 8) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--bits " + b + ": expected 2 to 8");
            }
            int g = groupSize();
            if (g == 0 || g < -1) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--group-size " + g + ": expected a positive column count or -1 (per channel)");
            }
            o.put("qw_spec", spec(b, g, asym));
            o.put("qw_mode", mode(g, asym));
            o.putIfAbsent("nbits_w", b);
            if (!activationsSet) {
                o.put("nbits_a", 32); // weight-only unless asked
            }
        } else if (bits != null || groupSize != null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--bits and --group-size set the weight grid of " + METHODS + "; for " + method
                    + " use --nbits-w and --qw-mode");
        }
    }

    /** The weight bits, 4 unless given. */
    int bits() {
        return bits == null ? 4 : bits;
    }

    /** The group size, 128 unless given (−1: per channel). */
    int groupSize() {
        return groupSize == null ? 128 : groupSize;
    }

    /** The weight spec text of this grid at {@code bits}: {@code int4-sym-group128}, {@code int8-asym-channel}. */
    String spec(int bits) {
        return spec(bits, groupSize(), asym);
    }

    /** The weight spec text: {@code int4-sym-group128}, {@code int8-asym-channel}. */
    private static String spec(int bits, int groupSize, boolean asym) {
        return "int" + bits + "-" + (asym ? "asym" : "sym") + "-" + (groupSize == -1 ? "channel" : "group" + groupSize);
    }

    /** The grid mode: GPTQ's full symmetric grid, or min/max with a zero point; per channel or per group. */
    private static String mode(int groupSize, boolean asym) {
        return (asym ? "minmax" : "maxfull") + (groupSize == -1 ? "perCh" : "perGp");
    }
}
