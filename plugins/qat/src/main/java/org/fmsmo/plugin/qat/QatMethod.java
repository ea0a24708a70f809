package org.fmsmo.plugin.qat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.TrainingObjective;
import org.fmsmo.api.quant.Scalars;

/**
 * Quantization-aware training (fms-mo's {@code qmodel_prep} + training loop):
 * <ol>
 *   <li>{@code prepare}: wrap the planned layers and calibrate the quantizers for
 *       {@code qmodel_calibration} batches (clips start where the recipe's observer puts them);</li>
 *   <li>train with AdamW on the host's {@link TrainingObjective}, three parameter groups —
 *       the weights the objective offers ({@code qat_lr}, {@code qat_weight_decay}; by default every
 *       float parameter of the model, {@code qat_trainable=quantized}: the quantized layers' only),
 *       the weight quantizers' clips ({@code pact_w_lr}) and the activation quantizers' clips
 *       ({@code pact_a_lr}), no decay on clips — with warm-up + cosine/linear schedule,
 *       global gradient-norm clipping and gradient accumulation;</li>
 *   <li>freeze: every weight is quantized once more with its learned clip.</li>
 * </ol>
 * Every {@code qat_checkpoint_every} steps and after the last, the objective saves a resumable
 * checkpoint with the optimizer state; a resumed run restores it and goes on from that step
 * (batch order and schedule depend only on the step, so it ends where an uninterrupted run does).
 * Each step runs in an {@link NDScope}: everything it creates is freed when it ends, so memory
 * does not grow with the number of steps. The data order comes from the objective (seeded).
 */
final class QatMethod implements QuantMethod {

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        TrainingObjective objective = context.training().orElseThrow(() -> new FmsmoException(ErrorCode.INVALID_ARGUMENT,
                "qat trains on text: pass --train-data FILE (and --distill to learn from the float model)"));
        QuantConfig cfg = context.config();
        Settings s = Settings.of(cfg);
        ProgressListener progress = context.progress();

        List<LayerWrapper> wrappers = context.prepare();
        Map<String, NDArray> named = objective.weights();
        List<NDArray> weights = new ArrayList<>(named.values());
        List<NDArray> weightClips = new ArrayList<>();
        List<NDArray> inputClips = new ArrayList<>();
        List<Quantizer> quantizers = new ArrayList<>();
        for (LayerWrapper w : wrappers) {
            quantizers.add(w.weightQuantizer());
            weightClips.addAll(w.weightQuantizer().parameters().values());
            w.inputQuantizer().ifPresent(q -> {
                quantizers.add(q);
                inputClips.addAll(q.parameters().values());
            });
        }
        List<NDArray> all = new ArrayList<>(weights);
        all.addAll(weightClips);
        all.addAll(inputClips);
        Map<String, Double> totals = new LinkedHashMap<>();
        OptionalDouble before = objective.evaluate();
        before.ifPresent(v -> totals.put("eval_before", v));

        for (NDArray p : all) {
            p.setRequiresGradient(true);
        }
        quantizers.forEach(q -> q.setTraining(true));
        LrSchedule schedule = new LrSchedule(s.schedule(), s.warmup(), s.steps());
        List<AdamW.Group> groups = List.of(new AdamW.Group("weights", weights, s.lr(), s.weightDecay()),
                new AdamW.Group("weight_clips", weightClips, s.weightClipLr(), 0),
                new AdamW.Group("input_clips", inputClips, s.inputClipLr(), 0));
        Map<NDArray, String> weightNames = new IdentityHashMap<>();
        named.forEach((n, a) -> weightNames.put(a, n));
        for (LayerWrapper w : wrappers) {
            w.weightQuantizer().parameters().forEach((n, a) -> weightNames.put(a, w.name() + ".weight_quantizer." + n));
            w.inputQuantizer().ifPresent(q -> q.parameters().forEach((n, a) -> weightNames.put(a, w.name() + ".input_quantizer." + n)));
        }
        int skipped = 0;
        int badSteps = 0;
        double firstLoss = Double.NaN;
        double lastLoss = Double.NaN;
        long tokens = 0;
        progress.begin("qat " + objective.name(), s.steps(), "steps");
        long loopStart = System.nanoTime();
        long first = 0;
        try (AdamW adam = new AdamW(groups, 0.9, 0.999, 1e-8, context.model().manager())) {
            if (objective.resumed().isPresent()) {
                TrainingObjective.Resumed r = objective.resumed().get();
                adam.load(r.methodState());
                first = r.step();
                progress.advance(first);
                progress.item("resumed after step " + first);
            }
            for (long step = first; step < s.steps(); step++) {
                if (progress.isCancelled()) {
                    throw new CancellationException("qat cancelled at step " + step);
                }
                double loss;
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    Map<NDArray, NDArray> grads = new IdentityHashMap<>();
                    loss = 0;
                    for (int micro = 0; micro < s.accumulate(); micro++) {
                        long batch = step * s.accumulate() + micro;
                        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                            NDArray l = objective.loss(batch);
                            float value = l.getFloat();
                            if (!Float.isFinite(value)) {
                                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "qat: the " + objective.name() + " loss is " + value
                                        + " at step " + step + "; lower qat_lr (" + s.lr() + ") or the clip learning rates");
                            }
                            loss += value / s.accumulate();
                            collector.backward(Scalars.div(l, s.accumulate()));
                        }
                        tokens += objective.tokens(batch);
                        collect(all, grads);
                    }
                    if (Double.isFinite(clipGlobalNorm(all, grads, s.gradClip()))) {
                        adam.step(grads, schedule.factor(step));
                        badSteps = 0;
                    } else {
                        // As mixed-precision trainers do: a non-finite gradient skips the update; many in a row is an error.
                        skipped++;
                        String culprit = firstNonFinite(all, grads, weightNames);
                        progress.item("step " + (step + 1) + " skipped: non-finite gradient (first: " + culprit + ")");
                        if (++badSteps >= MAX_BAD_STEPS) {
                            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "qat: " + MAX_BAD_STEPS + " steps in a row (up to step " + step
                                    + ") had non-finite gradients (first: " + culprit + "); lower qat_lr (" + s.lr()
                                    + ") or the clip learning rates, or set qat_grad_clip");
                        }
                    }
                }
                if (step == first) {
                    firstLoss = loss;
                }
                if (s.checkpointEvery() > 0 && (step + 1) % s.checkpointEvery() == 0 || step + 1 == s.steps()) {
                    objective.checkpoint(step + 1, adam.state());
                }
                lastLoss = loss;
                progress.advance(1);
                progress.item(String.format(Locale.ROOT, "step %d loss %.5f lr %.2e %.0f tok/s", step + 1, loss,
                        s.lr() * schedule.factor(step), tokens / ((System.nanoTime() - loopStart) / 1e9)));
                if (s.evalEvery() > 0 && (step + 1) % s.evalEvery() == 0 && step + 1 < s.steps()) {
                    quantizers.forEach(q -> q.setTraining(false));
                    long done = step + 1;
                    objective.evaluate().ifPresent(v -> progress.item(String.format(Locale.ROOT, "step %d held-out %.5f", done, v)));
                    quantizers.forEach(q -> q.setTraining(true));
                }
            }
        } finally {
            progress.end();
            quantizers.forEach(q -> q.setTraining(false));
            for (NDArray p : all) {
                p.setRequiresGradient(false);
            }
        }
        long trainEnd = System.nanoTime();
        List<QuantReport.LayerResult> results = new ArrayList<>();
        for (LayerWrapper w : wrappers) {
            w.freeze();
            results.add(QuantReport.frozenLayerResult(w));
        }
        totals.put("steps", (double) s.steps());
        totals.put("resumed_from_step", (double) first);
        totals.put("loss_first", firstLoss);
        totals.put("loss_last", lastLoss);
        totals.put("train_tokens", (double) tokens);
        totals.put("train_tokens_per_second", tokens / Math.max(1e-9, (trainEnd - loopStart) / 1e9));
        totals.put("skipped_steps", (double) skipped);
        objective.evaluate().ifPresent(v -> totals.put("eval_after", v));
        return new QuantReport("qat", results, (System.nanoTime() - start) / 1e9, totals);
    }

    /** Adds each parameter's gradient of this micro-batch into {@code into}, then zeroes it for the next backward pass. */
    private static void collect(List<NDArray> params, Map<NDArray, NDArray> into) {
        for (NDArray p : params) {
            NDArray g;
            try {
                g = p.getGradient();
            } catch (IllegalStateException e) {
                continue; // not on this loss's graph (e.g. a clip no input reached)
            }
            NDArray sum = into.get(p);
            into.put(p, sum == null ? g.duplicate() : sum.addi(g));
            g.set(new NDIndex("..."), 0f); // a fill, not g·0: an infinite gradient must not leave NaN behind
            g.close();
        }
    }

    /** Steps in a row with a non-finite gradient before the run stops. */
    private static final int MAX_BAD_STEPS = 10;

    /** The first parameter, in the optimizer's order, whose gradient holds a non-finite value. */
    private static String firstNonFinite(List<NDArray> params, Map<NDArray, NDArray> grads, Map<NDArray, String> names) {
        for (NDArray p : params) {
            NDArray g = grads.get(p);
            if (g != null && !Float.isFinite(g.abs().max().getFloat())) {
                return names.getOrDefault(p, "a parameter of shape " + p.getShape());
            }
        }
        return "none";
    }

    /**
     * Scales all gradients by min(1, maxNorm / ‖g‖₂) over every parameter together (0: no
     * clipping). The squares are summed in the parameters' fixed order, so a run and its resumed
     * copy clip identically (a hash order would change the last bits from run to run).
     */
    static double clipGlobalNorm(List<NDArray> params, Map<NDArray, NDArray> grads, double maxNorm) {
        double sq = 0;
        for (NDArray p : params) {
            NDArray g = grads.get(p);
            if (g != null) {
                sq += g.square().sum().getFloat();
            }
        }
        double norm = Math.sqrt(sq);
        if (maxNorm > 0 && norm > maxNorm) {
            float f = (float) (maxNorm / (norm + 1e-6));
            grads.values().forEach(g -> g.muli(f));
        }
        return norm;
    }

    /** The loop's settings from the config, with their defaults. */
    record Settings(long steps, double lr, double weightDecay, double weightClipLr, double inputClipLr, long warmup, String schedule,
                    double gradClip, int accumulate, int evalEvery, int checkpointEvery) {

        static Settings of(QuantConfig c) {
            double lr = c.getDouble("qat_lr", 1e-4);
            return new Settings(c.getInt("qat_steps", 100), lr, c.getDouble("qat_weight_decay", 0), c.getDouble("pact_w_lr", lr),
                    c.getDouble("pact_a_lr", lr), c.getInt("qat_warmup_steps", 0), c.getString("qat_schedule", "cosine"),
                    c.getDouble("qat_grad_clip", 1.0), c.getInt("qat_grad_accum", 1), c.getInt("qat_eval_every", 0),
                    c.getInt("qat_checkpoint_every", 0));
        }
    }
}
