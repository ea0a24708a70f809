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
        if (layers.isEmpty()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "mixed precision needs a sensitivity ranking with at least one layer");
        }
        for (int i = 0; i < widths.size(); i++) {
            if (widths.get(i) < 2 || widths.get(i) > MAX_BITS || i > 0 && widths.get(i) <= widths.get(i - 1)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "mixed precision widths " + widths + ": expected ascending bit widths from 2 to 8");
            }
        }
        int low = widths.getFirst();
        int high = widths.getLast();
        if (!(targetBits >= low) || targetBits > high) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--target-bits " + targetBits + ": expected from " + low + " to " + high
                    + " (the widths are " + widths + ")");
        }
        Map<String, Integer> width = new LinkedHashMap<>();
        long total = 0;
        double spent = 0;
        for (Sensitivity.Layer l : layers) {
            width.put(l.name(), low);
            total += l.parameters();
            spent += (double) low * l.parameters();
        }
        double budget = targetBits * total;
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
                if (spent + (double) (to - now) * l.parameters() > budget + 1e-9) {
                    continue;
                }
                double gain = (predicted(l, measuredAt, now) - predicted(l, measuredAt, to)) / ((double) (to - now) * l.parameters());
                if (best == null || gain > bestGain) {
                    best = l;
                    bestGain = gain;
                    bestTo = to;
                }
            }
            if (best == null) {
                return width;
            }
            spent += (double) (bestTo - width.get(best.name())) * best.parameters();
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
