package org.fmsmo.core.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantReport.LayerResult;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.core.context.DefaultQuantContext;

/**
 * Keeps the {@value #KEEP} layers with the largest quantization error of a run, with what the
 * report shows of them ({@link LayerProfile}). A run feeds it scope by scope (the whole model, or
 * one streamed block while it is still in memory): first the planned layers' input ranges, taken
 * before the method changes the model, then the method's results. Only a layer that enters the
 * worst few has its weight histogram computed, so the cost is a few weight passes per run.
 */
final class WorstLayers {

    static final int KEEP = 3;
    static final int BINS = 120;
    /** Rows per slice copied to the heap for the histogram, so a wide layer never needs a second weight-sized copy. */
    private static final long SLICE_ELEMENTS = 1 << 20;

    private final List<LayerProfile> worst;

    WorstLayers(List<LayerProfile> from) {
        this.worst = new ArrayList<>(from);
    }

    /**
     * Calibration examples the report's input ranges are taken from. The pass exists only for the
     * report: over all examples it was a whole forward of the model, and over the first batch of
     * eight still 20 s of an 8B-shaped block's 200 s. Two examples show the ranges' shape and
     * outlier channels.
     */
    static final int PROFILE_SAMPLES = 2;

    /**
     * Per input channel {@code max |x|} of the plan's quantized linear layers over the first
     * {@value #PROFILE_SAMPLES} calibration examples, from one pass of the scope as it is now;
     * empty without calibration examples.
     */
    static Map<String, float[]> inputRanges(DefaultQuantContext context, QuantPlan plan, boolean hasExamples) {
        if (!hasExamples) {
            return Map.of();
        }
        List<String> layers = plan.layers().stream().filter(d -> d.kind().equals(LayerDecision.LINEAR) && d.quantize())
                .map(LayerDecision::name).toList();
        return layers.isEmpty() ? Map.of() : context.inputChannelAbsMax(layers, PROFILE_SAMPLES);
    }

    /**
     * Takes the scope's results; call while the scope's layers are still in memory, after the method froze them.
     *
     * @param taken the histograms of layers whose float weights were freed during the method, taken just before
     */
    void add(QuantizableModel model, List<LayerResult> results, Map<String, float[]> ranges, Map<String, LayerProfile.Histogram> taken) {
        for (LayerResult r : results) {
            String metric = r.metrics().containsKey("output_rel_error") ? "output_rel_error" : "weight_rel_error";
            Double error = r.metrics().get(metric);
            if (error == null || !Double.isFinite(error) || worst.size() == KEEP && error <= worst.getLast().error()) {
                continue;
            }
            LinearLayer l = model.linear(r.name());
            LayerProfile.Histogram h = taken.containsKey(r.name()) ? taken.get(r.name())
                    : l instanceof LayerWrapper w && w.isFrozen() ? histogram(w) : null;
            worst.add(new LayerProfile(r.name(), metric, error, ranges.get(r.name()), h));
            worst.sort(Comparator.comparingDouble(LayerProfile::error).reversed());
            if (worst.size() > KEEP) {
                worst.removeLast();
            }
        }
    }

    /** Worst first. */
    List<LayerProfile> worst() {
        return List.copyOf(worst);
    }

    /** The float weight and its dequantized codes, counted in the same bins over the float weight's range. */
    static LayerProfile.Histogram histogram(LayerWrapper w) {
        try (NDScope scope = new NDScope()) { // frees the dequantized copy now
            scope.suppressNotUsedWarning();
            NDArray before = w.weight();
            NDArray after = w.frozenWeight().dequantize();
            double min = before.min().getFloat();
            double max = before.max().getFloat();
            if (!(max > min)) {
                max = min + 1;
            }
            long[] b = new long[BINS];
            long[] a = new long[BINS];
            count(before, min, max, b);
            count(after, min, max, a);
            return new LayerProfile.Histogram(min, max, b, a);
        }
    }

    private static void count(NDArray weight, double min, double max, long[] bins) {
        long rows = weight.getShape().get(0);
        long cols = weight.getShape().size() / rows;
        long step = Math.max(1, SLICE_ELEMENTS / cols);
        double width = (max - min) / bins.length;
        for (long r = 0; r < rows; r += step) {
            try (NDArray slice = weight.get(new NDIndex("{}:{}", r, Math.min(rows, r + step)))) {
                for (float v : slice.toFloatArray()) {
                    int i = (int) Math.floor((v - min) / width);
                    bins[Math.clamp(i, 0, bins.length - 1)]++;
                }
            }
        }
    }
}
