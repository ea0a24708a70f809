package org.fmsmo.core.pipeline;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * Per-layer weight bits under an average-bits budget, from a {@link Sensitivity} ranking measured
 * at some width {@code m} (a narrow one separates the layers best: at 3 bits their losses stand
 * well above the evaluation's noise, at 4 they barely do). The loss of a layer at width {@code w}
 * is predicted from its measured one by the rounding-noise model: each bit fewer quadruples the
 * quantization error's power, so {@code loss(w) = loss(m) · 4^(m − w)}; a layer measured as
 * harmless (loss ≤ 0, within the noise) counts as 0. Every layer starts at the narrowest width
 * (by default {@code bits − 1} of {@code bits − 1, bits, 8}); then, while the budget
 * {@code Σ bitsᵢ·paramsᵢ ≤ target·Σ paramsᵢ} allows, the step to a layer's next width with the
 * largest predicted loss saved per added bit·parameter is taken. The result spends the budget
 * where the ranking says it matters: the most sensitive layers widest.
 */
public final class MixedPrecision {

    /** The widest width a layer is raised to. */
    static final int MAX_BITS = 8;

    private MixedPrecision() {
    }

    /** The widths {@code bits − 1}, {@code bits} and 8. */
    public static List<Integer> defaultWidths(int bits) {
        if (bits < 3 || bits >= MAX_BITS) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "mixed precision: --bits must be 3 to 7 (layers get one bit less, --bits or 8), found " + bits);
        }
        return List.of(bits - 1, bits, MAX_BITS);
    }

    /**
     * Bits per layer.
     *
     * @param layers     the ranking (any order), with each layer's parameters and measured loss
     * @param measuredAt the width the ranking was measured at
     * @param widths     the widths a layer may get, ascending, 2 to 8 bits (a format that packs only
     *                   2, 4 and 8 bits, as compressed-tensors, asks for {@code 2, 4, 8} or {@code 4, 8})
     * @param targetBits the average bits per weight allowed, from the narrowest width to the widest
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} for a budget or widths out of range or an empty ranking
     */
    public static Map<String, Integer> allocate(List<Sensitivity.Layer> layers, int measuredAt, List<Integer> widths, double targetBits) {
        check(layers, widths);
        int low = widths.getFirst();
        int high = widths.getLast();
        if (!(targetBits >= low) || targetBits > high) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--target-bits " + targetBits + ": expected from " + low + " to " + high
                    + " (the widths are " + widths + ")");
        }
        long total = layers.stream().mapToLong(Sensitivity.Layer::parameters).sum();
        return allocate(layers, measuredAt, widths, targetBits * total, (l, w) -> (double) w * l.parameters());
    }

    /**
     * Bits per layer under a size budget: as {@link #allocate(List, int, List, double)}, with each
     * layer's cost the bits it takes written ({@link Stored}), and the budget what the ranked
     * layers may take of {@code targetBytes} once the checkpoint's other tensors are counted.
     *
     * @param otherBytes the written bytes of everything but the ranked layers (embeddings, norms, head)
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} when even the narrowest width does not fit, or the widest fits with room
     */
    public static Map<String, Integer> allocateSize(List<Sensitivity.Layer> layers, int measuredAt, List<Integer> widths, long targetBytes,
                                                    long otherBytes, Stored stored) {
        check(layers, widths);
        double budget = 8.0 * (targetBytes - otherBytes);
        double least = layers.stream().mapToDouble(l -> stored.bits(l.parameters(), widths.getFirst())).sum();
        double most = layers.stream().mapToDouble(l -> stored.bits(l.parameters(), widths.getLast())).sum();
        if (budget < least || budget > most) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, String.format(java.util.Locale.ROOT, "--target-size %d bytes: expected from"
                    + " %.0f (every ranked layer at %d bits) to %.0f (at %d bits), counting %d bytes of the other tensors", targetBytes,
                    otherBytes + least / 8, widths.getFirst(), otherBytes + most / 8, widths.getLast(), otherBytes));
        }
        return allocate(layers, measuredAt, widths, budget, (l, w) -> stored.bits(l.parameters(), w));
    }

    /**
     * How a format stores a layer of {@code params} weights at width {@code w}: the codes packed
     * at {@code w} bits, and per group of {@code groupSize} weights a scale of {@code scaleBits}
     * and, with zero points, a {@code w}-bit zero point (per-channel scales, one per row, are
     * left out: a row is thousands of weights).
     */
    public record Stored(int groupSize, int scaleBits, boolean zeroPoints) {
        double bits(long params, int w) {
            double groups = groupSize > 0 ? (double) params / groupSize : 0;
            return (double) params * w + groups * (scaleBits + (zeroPoints ? w : 0));
        }
    }

    private static void check(List<Sensitivity.Layer> layers, List<Integer> widths) {
        if (layers.isEmpty()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "mixed precision needs a sensitivity ranking with at least one layer");
        }
        for (int i = 0; i < widths.size(); i++) {
            if (widths.get(i) < 2 || widths.get(i) > MAX_BITS || i > 0 && widths.get(i) <= widths.get(i - 1)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "mixed precision widths " + widths + ": expected ascending bit widths from 2 to 8");
            }
        }
    }

    /** The greedy: everything at the narrowest width, then the widening with the most predicted loss saved per added cost, while the budget allows. */
    private static Map<String, Integer> allocate(List<Sensitivity.Layer> layers, int measuredAt, List<Integer> widths, double budget,
                                                 java.util.function.ToDoubleBiFunction<Sensitivity.Layer, Integer> cost) {
        int low = widths.getFirst();
        Map<String, Integer> width = new LinkedHashMap<>();
        double spent = 0;
        for (Sensitivity.Layer l : layers) {
            width.put(l.name(), low);
            spent += cost.applyAsDouble(l, low);
        }
        while (true) {
            Sensitivity.Layer best = null;
            double bestGain = 0;
            int bestTo = 0;
            for (Sensitivity.Layer l : layers) {
                int now = width.get(l.name());
                int next = widths.indexOf(now) + 1;
                if (next == widths.size()) {
                    continue;
                }
                int to = widths.get(next);
                double added = cost.applyAsDouble(l, to) - cost.applyAsDouble(l, now);
                if (spent + added > budget + 1e-9) {
                    continue;
                }
                double gain = (predicted(l, measuredAt, now) - predicted(l, measuredAt, to)) / added;
                if (best == null || gain > bestGain) {
                    best = l;
                    bestGain = gain;
                    bestTo = to;
                }
            }
            if (best == null) {
                return width;
            }
            spent += cost.applyAsDouble(best, bestTo) - cost.applyAsDouble(best, width.get(best.name()));
            width.put(best.name(), bestTo);
        }
    }

    /** The predicted loss at {@code to} bits of a layer measured at {@code measuredAt}. */
    static double predicted(Sensitivity.Layer l, int measuredAt, int to) {
        return Math.max(0, l.loss()) * Math.pow(4, measuredAt - to);
    }

    /** {@code Σ bitsᵢ·paramsᵢ / Σ paramsᵢ}. */
    public static double averageBits(List<Sensitivity.Layer> layers, Map<String, Integer> width) {
        double bits = 0;
        long total = 0;
        for (Sensitivity.Layer l : layers) {
            bits += (double) width.get(l.name()) * l.parameters();
            total += l.parameters();
        }
        return bits / total;
    }
}
