package org.fmsmo.plugin.awq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.api.quant.StageQuantizer;

/**
 * AWQ over a model, stage by stage ({@link QuantContext#sequential}: later stages and blocks see
 * the earlier ones quantized). For each stage — the layers that read one input — it captures the
 * input's statistics, searches the activation-aware scale ({@link AwqSearch#searchScale}) and
 * folds it where the architecture allows ({@link QuantContext#smooth}: 1/s into the producing norm
 * or, for o_proj and down_proj, into v_proj's or up_proj's rows, s into the layers' columns),
 * searches each layer's clipping and clamps its weight, and hands the stage to the finishing
 * method's step ({@link QuantContext#stageQuantizer}): rtn's for {@code awq}, gptq's for
 * {@code awq+gptq}, which re-captures the now-scaled input.
 *
 * <p>A stage whose input cannot be scaled without a run-time divisor — its producer is not a norm
 * or such a linear layer, feeds other layers too, or is frozen per tensor — keeps {@code s = 1}
 * (metric {@code awq_scaled} 0): deployable checkpoints have no place for a divisor.
 */
final class AwqMethod implements QuantMethod {

    private final String name;
    private final boolean gptq;

    /** @param gptq finish each stage with GPTQ's step instead of clipping and round-to-nearest */
    AwqMethod(String name, boolean gptq) {
        this.name = name;
        this.gptq = gptq;
    }

    @Override
    public boolean perBlock() {
        return true; // each stage from its own block's inputs
    }

    /** The run's settings. */
    private record Settings(int grid, boolean clip, boolean duo, double maxShrink, int searchTokens, long seed) {
        static Settings of(QuantConfig c) {
            return new Settings(c.getInt("awq_grid", 20), c.getBoolean("awq_clip", true), c.getBoolean("awq_duo_scaling", true),
                    c.getDouble("awq_max_shrink", 0.5), c.getInt("awq_search_tokens", 4096), c.getInt("seed", 0));
        }
    }

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        List<LayerDecision> todo = context.plan().quantized();
        todo.forEach(this::check); // every layer before the first is calibrated
        Settings settings = Settings.of(context.config());
        StageQuantizer finish = context.stageQuantizer(gptq ? "gptq" : "rtn");
        ProgressListener progress = context.progress();
        List<QuantReport.LayerResult> results = new ArrayList<>();
        int[] scaled = new int[2];
        progress.begin(name, todo.size(), "layers");
        try {
            context.sequential((layers, inputs) -> {
                List<QuantReport.LayerResult> stage = stage(context, settings, finish, layers, inputs);
                scaled[stage.getFirst().metrics().get("awq_scaled") > 0 ? 0 : 1]++;
                results.addAll(stage);
            });
        } finally {
            progress.end();
        }
        return new QuantReport(name, results, (System.nanoTime() - start) / 1e9,
                Map.of("awq_stages_scaled", (double) scaled[0], "awq_stages_unscaled", (double) scaled[1]));
    }

    /** Scale search and fold, clipping, then the finishing method's step; its results with AWQ's metrics added. */
    private List<QuantReport.LayerResult> stage(QuantContext context, Settings settings, StageQuantizer finish, List<String> layers,
                                                QuantContext.LayerInputs inputs) {
        ProgressListener progress = context.progress();
        if (progress.isCancelled()) {
            throw new CancellationException(name + " cancelled before layer " + layers.getFirst());
        }
        long t0 = System.nanoTime();
        progress.item(layers.getFirst() + " (awq: capturing inputs)");
        String weightMode = context.config().getString("qw_mode", null); // the mode rtn and the CLI's gptq grid use
        Map<String, QuantSpec> specs = new HashMap<>();
        List<NDArray> weights = new ArrayList<>();
        List<Quantizer> quantizers = new ArrayList<>();
        for (String layer : layers) {
            LayerDecision d = context.plan().quantizedDecision(layer, name);
            specs.put(layer, d.weightSpec());
            weights.add(context.model().linear(layer).weight());
            quantizers.add(context.quantizer(weightMode, d.weightSpec()));
        }
        int in = Math.toIntExact(context.model().linear(layers.getFirst()).inFeatures());
        Map<String, Double> stageMetrics = new HashMap<>();
        Map<String, Double> clipRatios = new HashMap<>();
        Map<String, float[]> sampled = new HashMap<>();
        try (InputStats stats = InputStats.capture(inputs, in, settings.searchTokens(), settings.seed(), context.model().manager())) {
            float[] s = null;
            if (foldable(context.plan(), layers)) {
                QuantSpec first = specs.get(layers.getFirst());
                float[] magnitudes = settings.duo()
                        ? AwqSearch.weightMagnitudes(weights, first.granularity() == Granularity.GROUP ? first.groupSize() : in) : null;
                AwqSearch.Scale scale = AwqSearch.searchScale(stats, weights, quantizers, settings.grid(), magnitudes);
                stageMetrics.put("awq_alpha", scale.alpha());
                stageMetrics.put("awq_loss_ratio", scale.baseLoss() > 0 ? scale.loss() / scale.baseLoss() : 1);
                if (scale.alpha() > 0) {
                    context.smooth(layers, scale.s());
                    s = scale.s();
                }
            }
            stageMetrics.put("awq_scaled", s == null ? 0.0 : 1.0);
            for (int l = 0; l < layers.size(); l++) {
                String layer = layers.get(l);
                // The error is measured against the scaled, unclipped weight: what the float model computes.
                sampled.put(layer, OutputError.sampleRows(context.model().linear(layer).weight(), s));
                if (settings.clip()) {
                    clipRatios.put(layer, clip(context, settings, stats, s, layer, quantizers.get(l), specs.get(layer)));
                }
            }
            double searchSeconds = (System.nanoTime() - t0) / 1e9;
            // The finishing step re-captures the input (divided by s now) for its own needs (GPTQ's Hessian).
            List<QuantReport.LayerResult> results = new ArrayList<>();
            for (QuantReport.LayerResult r : finish.quantize(layers, inputs)) {
                Map<String, Double> metrics = new HashMap<>(r.metrics());
                metrics.putAll(stageMetrics);
                if (clipRatios.containsKey(r.name())) {
                    metrics.put("awq_clip_ratio", clipRatios.get(r.name()));
                }
                LayerWrapper frozen = (LayerWrapper) context.model().linear(r.name());
                metrics.put("output_rel_error", OutputError.relative(stats, sampled.get(r.name()), frozen.frozenWeight(), s));
                metrics.put("seconds", metrics.getOrDefault("seconds", 0.0) + searchSeconds / layers.size());
                results.add(new QuantReport.LayerResult(r.name(), r.spec(), metrics));
            }
            return results;
        }
    }

    /**
     * AWQ's clipping search on one layer of a (scaled) stage, then its weight clamped in place to
     * the chosen bounds.
     *
     * @return the mean bound / max |w| over the layer's groups
     */
    private static double clip(QuantContext context, Settings settings, InputStats stats, float[] s, String layer, Quantizer wq, QuantSpec spec) {
        LinearLayer linear = context.model().linear(layer);
        NDArray w = linear.weight();
        int in = Math.toIntExact(linear.inFeatures());
        int groupSize = spec.granularity() == Granularity.GROUP ? spec.groupSize() : in;
        AwqSearch.Clip clip = AwqSearch.searchClip(stats, w, s, wq, groupSize, settings.grid(), settings.maxShrink());
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            w.subi(w.sub(AwqSearch.clamp(w, clip.bound(), groupSize))); // in place: the layer's own weight
        }
        return clip.meanRatio();
    }

    /**
     * Whether the stage's input can take a scale without a run-time divisor: the plan lets it fold
     * ({@link QuantPlan#foldable}), and a producing linear layer that is quantized keeps one scale
     * per row (channel or group), which {@link QuantContext#smooth} divides exactly.
     */
    static boolean foldable(QuantPlan plan, List<String> layers) {
        if (!plan.foldable(layers)) {
            return false;
        }
        Optional<QuantSpec> producer = plan.decision(plan.inputGroup(layers.getFirst()).orElseThrow().producer())
                .filter(LayerDecision::quantize).map(LayerDecision::weightSpec);
        return producer.isEmpty() || producer.get().granularity() != Granularity.TENSOR;
    }

    private void check(LayerDecision d) {
        QuantSpec s = d.weightSpec();
        if (s.type() != QuantType.INT || s.granularity() == Granularity.TENSOR || s.granularity() == Granularity.TOKEN) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, name + " quantizes weights to INT2-8 per channel or per group; layer "
                    + d.name() + " has weight spec " + s + " (use fp8 or rtn for other specs)");
        }
        if (d.inputSpec() != null && d.inputSpec().rangeSource() != RangeSource.DYNAMIC) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, name + " leaves activations in float or quantizes them per token at run time; layer "
                    + d.name() + " asks for static " + d.inputSpec() + " (use ptq for static activation ranges)");
        }
    }
}
