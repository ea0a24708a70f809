package org.fmsmo.plugin.awq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.fmsmo.api.quant.Quantizer;

/**
 * AWQ's two searches (Lin et al., 2024, "AWQ: Activation-aware Weight Quantization"), on the
 * statistics of one stage's input:
 * <ul>
 * <li>the per-input-channel scale {@code s = mean|x|^α} (normalised so that
 *     {@code max(s)·min(s) = 1}), with α from a grid on [0, 1), minimising the output error
 *     {@code Σ_layers ‖X·(W − Q(W·diag s)·diag s⁻¹)ᵀ‖²} of the layers that read the input: salient
 *     channels (large mean |x|) get larger weights, so relatively finer steps of the grid;</li>
 * <li>per (output row, column group) a clipping ratio of the group's max |w| from
 *     {@code 1, 1 − 1/n, …} down to {@code 1 − maxShrink}, minimising that group's own output
 *     error: a narrower range rounds the common weights more finely at the cost of the few large
 *     ones.</li>
 * </ul>
 * Both use the host's quantizer of the layer's planned spec, so the grid searched is the grid
 * frozen.
 */
final class AwqSearch {

    /** Below this a channel's mean |x| counts as dead: its scale would be 0 and not invertible. */
    static final float MIN_MAGNITUDE = 1e-4f;

    private AwqSearch() {
    }

    /**
     * The chosen scale.
     *
     * @param alpha    the exponent chosen (0: no scaling helps, {@code s = 1})
     * @param s        the per-channel scale for that α
     * @param loss     the summed output error per token with it
     * @param baseLoss the same without scaling (α = 0, plain round-to-nearest)
     */
    record Scale(double alpha, float[] s, double loss, double baseLoss) {
    }

    /** {@code s_j = max(x_j, 1e−4)^α / sqrt(max s · min s)}: at α = 0 every factor is 1. */
    static float[] scales(float[] meanAbs, double alpha) {
        return scales(meanAbs, null, alpha);
    }

    /**
     * With weight magnitudes {@code w} (AutoAWQ's "duo scaling"):
     * {@code s_j = x_j^α / w_j^(1−α)}, normalised the same way; {@code w} null: the paper's {@code x_j^α}.
     */
    static float[] scales(float[] meanAbs, float[] w, double alpha) {
        float[] s = new float[meanAbs.length];
        double max = 0;
        double min = Double.MAX_VALUE;
        for (int j = 0; j < s.length; j++) {
            double v = Math.pow(Math.max(meanAbs[j], MIN_MAGNITUDE), alpha);
            if (w != null) {
                v /= Math.pow(Math.max(w[j], MIN_MAGNITUDE), 1 - alpha);
            }
            s[j] = (float) v;
            max = Math.max(max, v);
            min = Math.min(min, v);
        }
        double norm = Math.sqrt(max * min);
        for (int j = 0; j < s.length; j++) {
            s[j] = (float) (s[j] / norm);
        }
        return s;
    }

    /**
     * Searches α on the grid {@code 0, 1/n, …, (n−1)/n}; ties keep the smaller α.
     *
     * @param weights    the stage's layers' float weights {@code [out, in]}, all reading the stage's input
     * @param quantizers each layer's weight quantizer (its planned spec and mode)
     */
    static Scale searchScale(InputStats stats, List<NDArray> weights, List<Quantizer> quantizers, int grid) {
        return searchScale(stats, weights, quantizers, grid, null);
    }

    /** @param weightMagnitude per input channel, for duo scaling ({@link #weightMagnitudes}); null for the paper's form */
    static Scale searchScale(InputStats stats, List<NDArray> weights, List<Quantizer> quantizers, int grid, float[] weightMagnitude) {
        float[] meanAbs = stats.meanAbs();
        NDManager m = weights.getFirst().getManager();
        double base = Double.NaN;
        double best = Double.POSITIVE_INFINITY;
        double bestAlpha = 0;
        float[] bestS = scales(meanAbs, 0);
        for (int i = 0; i < grid; i++) {
            double alpha = (double) i / grid;
            float[] s = i == 0 ? scales(meanAbs, 0) : scales(meanAbs, weightMagnitude, alpha); // α = 0 is the unscaled baseline
            double loss = 0;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray scale = m.create(s);
                for (int l = 0; l < weights.size(); l++) {
                    NDArray w = weights.get(l);
                    NDArray q = quantizers.get(l).fakeQuantize(w.mul(scale)).div(scale);
                    loss += stats.outputError(w.sub(q));
                }
            }
            if (i == 0) {
                base = loss;
            }
            if (loss < best) {
                best = loss;
                bestAlpha = alpha;
                bestS = s;
            }
        }
        return new Scale(bestAlpha, bestS, best, base);
    }

    /**
     * The clipping search on one layer, whose weight {@code ws} has already been multiplied by the
     * stage's scale {@code s} (its input divided by it); errors are measured against the unclipped
     * {@code ws}, mapped back to the statistics' (unscaled) input. Returns, per (row, group), the
     * bound {@code ratio · max|ws|} to clamp to; row-major {@code [out, groups]}.
     *
     * @param s         the stage's scale, or null when it was not scaled
     * @param groupSize columns per group ({@code in} for one scale per row)
     * @param maxShrink the smallest ratio tried is {@code 1 − maxShrink} (rounded to the grid)
     */
    static Clip searchClip(InputStats stats, NDArray ws, float[] s, Quantizer quantizer, int groupSize, int grid, double maxShrink) {
        int out = Math.toIntExact(ws.getShape().get(0));
        int in = Math.toIntExact(ws.getShape().get(1));
        int groups = (in + groupSize - 1) / groupSize;
        float[] maxAbs = groupMaxAbs(ws.toFloatArray(), out, in, groupSize);
        float[] bestErr = new float[out * groups];
        float[] bound = new float[out * groups];
        java.util.Arrays.fill(bestErr, Float.POSITIVE_INFINITY);
        NDManager m = ws.getManager();
        int steps = Math.max(1, (int) Math.round(maxShrink * grid));
        for (int i = 0; i < steps; i++) {
            double ratio = 1 - (double) i / grid;
            float[] b = new float[maxAbs.length];
            for (int k = 0; k < b.length; k++) {
                b[k] = (float) (maxAbs[k] * ratio);
            }
            float[] err;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray clipped = clamp(ws, b, groupSize);
                NDArray e = ws.sub(quantizer.fakeQuantize(clipped));
                if (s != null) {
                    e = e.div(m.create(s));
                }
                err = stats.groupErrors(e, groupSize, out);
            }
            for (int k = 0; k < err.length; k++) {
                if (err[k] < bestErr[k]) {
                    bestErr[k] = err[k];
                    bound[k] = b[k];
                }
            }
        }
        return new Clip(bound, maxAbs);
    }

    /**
     * Per input channel, the mean over the stage's weight rows of {@code |w| / max|w|} within each
     * row's group: how large a channel's weights are relative to their group's grid (duo scaling).
     */
    static float[] weightMagnitudes(List<NDArray> weights, int groupSize) {
        int in = Math.toIntExact(weights.getFirst().getShape().get(1));
        double[] sum = new double[in];
        long rows = 0;
        for (NDArray w : weights) {
            int out = Math.toIntExact(w.getShape().get(0));
            float[] v = w.toFloatArray();
            int g = Math.min(groupSize, in);
            float[] max = groupMaxAbs(v, out, in, g);
            int groups = (in + g - 1) / g;
            for (int r = 0; r < out; r++) {
                for (int c = 0; c < in; c++) {
                    float m = max[r * groups + c / g];
                    sum[c] += m > 0 ? Math.abs(v[r * in + c]) / m : 0;
                }
            }
            rows += out;
        }
        float[] mean = new float[in];
        for (int c = 0; c < in; c++) {
            mean[c] = (float) (sum[c] / rows);
        }
        return mean;
    }

    /**
     * The clipping chosen for one layer.
     *
     * @param bound  per (row, group), row-major {@code [out, groups]}: clamp to {@code [−bound, bound]}
     * @param maxAbs per (row, group): the group's max |w| before clipping
     */
    record Clip(float[] bound, float[] maxAbs) {

        /** The mean of {@code bound / maxAbs} over the groups that are not all zero. */
        double meanRatio() {
            double sum = 0;
            int n = 0;
            for (int k = 0; k < bound.length; k++) {
                if (maxAbs[k] > 0) {
                    sum += bound[k] / maxAbs[k];
                    n++;
                }
            }
            return n == 0 ? 1 : sum / n;
        }
    }

    /** Max |w| per (row, group), row-major {@code [out, groups]}; the last group may be narrower. */
    static float[] groupMaxAbs(float[] w, int out, int in, int groupSize) {
        int groups = (in + groupSize - 1) / groupSize;
        float[] max = new float[out * groups];
        for (int r = 0; r < out; r++) {
            for (int c = 0; c < in; c++) {
                int k = r * groups + c / groupSize;
                max[k] = Math.max(max[k], Math.abs(w[r * in + c]));
            }
        }
        return max;
    }

    /** {@code w} clamped to {@code [−b, b]} with one bound per (row, group); a new array. */
    static NDArray clamp(NDArray w, float[] bound, int groupSize) {
        long out = w.getShape().get(0);
        long in = w.getShape().get(1);
        long groups = bound.length / out;
        NDArray b = w.getManager().create(bound, new Shape(out, groups)).repeat(1, groupSize);
        if (b.getShape().get(1) != in) {
            b = b.get(new NDIndex(":, 0:{}", in)); // the ragged last group
        }
        return w.minimum(b).maximum(b.neg());
    }
}
