package org.fmsmo.core.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.format.CheckpointFormat;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.core.analysis.ModelAnalyzer;
import org.fmsmo.core.analysis.QuantPlanner;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.calibration.HiddenStates;
import org.fmsmo.core.context.BlockScope;
import org.fmsmo.core.context.DefaultQuantContext;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.model.BlockView;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.plugin.PluginRegistry;

/**
 * Quantization layer by layer (llm-compressor's sequential onloading): weights stay mapped; for
 * each decoder block in turn the block is materialised, planned from a trace of its own forward
 * pass, quantized by the method with a context scoped to it (its calibration inputs are the
 * hidden states after the earlier, already-quantized blocks), run once more to move the hidden
 * states past it, written to the output and freed. Memory holds one block, the hidden states and
 * the method's work arrays, whatever the depth. After each block the run saves a checkpoint
 * ({@link RunJournal}), so a killed run started again goes on after its last finished block.
 */
final class StreamedRun {

    /** Positions of the trace a block is planned from; the model must be opened for at least this many. */
    static final int TRACE_TOKENS = 4;

    /** What the run gives back besides the written folder. */
    record Outcome(QuantReport report, Map<String, String> skipped, int bmms, Map<String, Double> stageSeconds, int resumedAfterBlocks,
                   List<LayerProfile> worst) {
    }

    /** The plan's linear layers left in float, with the planner's reasons. */
    static Map<String, String> skipped(QuantPlan plan) {
        Map<String, String> out = new LinkedHashMap<>();
        plan.layers().stream().filter(d -> d.kind().equals(LayerDecision.LINEAR) && !d.quantize()).forEach(d -> out.put(d.name(), d.reason()));
        return out;
    }

    private final StreamedModel model;
    private final String methodName;
    private final QuantMethod method;
    private final String formatName;
    private final CheckpointFormat format;
    private final QuantConfig config;
    private final PluginRegistry registry;
    private final ProgressListener progress;

    private Path offloadDir;
    private long offloadOver = Long.MAX_VALUE;

    StreamedRun(StreamedModel model, String methodName, QuantMethod method, String formatName, CheckpointFormat format, QuantConfig config,
                PluginRegistry registry, ProgressListener progress) {
        this.model = model;
        this.methodName = methodName;
        this.method = method;
        this.formatName = formatName;
        this.format = format;
        this.config = config;
        this.registry = registry;
        this.progress = progress;
    }

    /**
     * Hidden states beyond {@code budgetBytes} go to files in {@code dir} (a folder of this run's
     * own, removed at the end), or in the run's partial folder when {@code dir} is null.
     */
    StreamedRun offload(Path dir, long budgetBytes) {
        this.offloadDir = dir;
        this.offloadOver = budgetBytes;
        return this;
    }

    /**
     * Plans block 0 and lets the format refuse the plan before any work; refuses layer names in
     * the config that name no layer of any block.
     */
    void checkPlan() {
        try (NDManager m = NDManager.newBaseManager()) {
            Module block = model.loadBlock(0, m);
            BlockView view = new BlockView(model.config().architecture(model.config().modelType()), block, m);
            List<String> linears = new ArrayList<>(model.outerLinears());
            String first = model.blockPath(0) + ".";
            for (int i = 0; i < model.numBlocks(); i++) {
                String prefix = model.blockPath(i) + ".";
                view.linearLayers().forEach(l -> linears.add(prefix + l.name().substring(first.length())));
            }
            QuantPlanner.checkLayerNames(linears, config);
            format.checkPlan(view, plan(block, view, m));
        }
    }

    /**
     * Quantizes and writes every block into {@code target}, going on from the last finished block
     * of a dead run with the same {@code fingerprint} when there is one.
     *
     * @param fingerprint what decides the output's bytes (model, method, config, format, calibration, shard size)
     */
    Outcome run(CalibrationData data, Path target, long maxShardBytes, Map<String, Object> fingerprint) {
        Path partial = RunJournal.partialFolder(target);
        RunJournal journal = RunJournal.open(partial, fingerprint, progress::note);
        // A given offload folder gets one of the run's own, removed at the end; by default the files go with the journal.
        Path ownOffload = offloadDir == null ? null : offloadDir.resolve("fmsmo-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        HiddenStates.Offload offload = new HiddenStates.Offload(ownOffload != null ? ownOffload : journal.dir().resolve("offload"), offloadOver);
        // A format that cannot save its state makes every block's checkpoint useless: such runs start over.
        boolean resumable = format.streamState() != null;
        boolean keep = false;
        if (resumable) {
            OutputFiles.resumable(partial, true);
        } else {
            OutputFiles.writing(partial);
        }
        if (ownOffload != null) {
            OutputFiles.writing(ownOffload);
        }
        try {
            RunJournal.Checkpoint from = resumable ? journal.checkpoint() : null;
            StreamedOutput out = new StreamedOutput(model, formatName, format, partial, maxShardBytes, from == null ? null : from.writer());
            if (from != null) {
                format.restoreStreamState(from.format());
                progress.note("resuming " + partial + " after block " + from.blocksDone() + "/" + model.numBlocks());
            }
            Outcome o;
            try {
                o = run(data, out, journal, from, resumable, offload);
            } catch (java.util.concurrent.CancellationException e) {
                keep = true;
                throw e;
            } catch (FmsmoException e) {
                keep = e.code() == ErrorCode.IO_ERROR; // a full disk, say: freeing space and running again goes on
                throw e;
            }
            journal.discard();
            out.commit(target);
            return o;
        } finally {
            OutputFiles.resumable(partial, false);
            journal.close();
            if (ownOffload != null) {
                OutputFiles.deleteTree(ownOffload);
            }
            if (keep) {
                progress.note("the finished blocks are kept in " + partial + "; run the same command again to go on from there");
            } else {
                OutputFiles.deleteTree(partial);
            }
        }
    }

    private Outcome run(CalibrationData data, StreamedOutput out, RunJournal journal, RunJournal.Checkpoint from, boolean resumable,
                        HiddenStates.Offload offload) {
        Map<String, Double> seconds = new LinkedHashMap<>(from == null ? Map.of() : from.seconds());
        List<QuantReport.LayerResult> results = new ArrayList<>(from == null ? List.of() : from.layers());
        Map<String, String> skipped = new LinkedHashMap<>(from == null ? Map.of() : from.skipped());
        WorstLayers worst = new WorstLayers(from == null ? List.of() : from.worst());
        int bmms = from == null ? 0 : from.bmms();
        int first = from == null ? 0 : from.blocksDone();
        long start = System.nanoTime();
        try (NDManager root = NDManager.newBaseManager()) {
            long t = System.nanoTime();
            if (from == null) {
                out.copyThrough(model.leadingTensors());
            }
            HiddenStates states = data == null ? null : HiddenStates.embed(data, root, model::blockInput, offload);
            if (states != null && from != null && from.hidden() != null) {
                states.restore(from.hidden());
            }
            if (states != null && states.offloaded() > 0) {
                progress.note(String.format(java.util.Locale.ROOT, "%d of %d calibration batches' hidden states are offloaded to files"
                        + " (%.2f GB kept in memory)", states.offloaded(), states.size(), states.bytes() / 1e9));
            }
            add(seconds, "embed_and_copy", t);
            try {
                for (int i = first; i < model.numBlocks(); i++) {
                    if (progress.isCancelled()) {
                        throw new java.util.concurrent.CancellationException("cancelled before block " + i);
                    }
                    progress.item("block " + (i + 1) + "/" + model.numBlocks());
                    try (NDManager blockManager = root.newSubManager()) {
                        t = System.nanoTime();
                        Module block = model.loadBlock(i, blockManager);
                        BlockView view = new BlockView(model.config().architecture(model.config().modelType()), block, blockManager);
                        QuantPlan plan = plan(block, view, blockManager);
                        add(seconds, "load", t);
                        t = System.nanoTime();
                        Map<String, LayerProfile.Histogram> histograms = new LinkedHashMap<>();
                        BlockScope scope = new BlockScope(model, block, view, states, w -> histograms.put(w.name(), WorstLayers.histogram(w)));
                        DefaultQuantContext context = new DefaultQuantContext(scope, plan, config, registry, progress);
                        t = System.nanoTime();
                        Map<String, float[]> ranges = WorstLayers.inputRanges(context, plan, states != null); // before the method changes the block
                        add(seconds, "profile_inputs", t);
                        t = System.nanoTime();
                        QuantReport r = method.quantize(context);
                        context.quantizeKvCache(); // the block's keys and values as its quantized layers compute them
                        worst.add(context.model(), r.layers(), ranges, histograms);
                        results.addAll(r.layers());
                        skipped.putAll(skipped(plan));
                        bmms += plan.quantizedBmms().size();
                        add(seconds, "quantize", t);
                        t = System.nanoTime();
                        boolean last = i + 1 == model.numBlocks();
                        try (scope) {
                            if (states != null && !last) {
                                scope.advance();
                            }
                        }
                        add(seconds, "forward", t);
                        t = System.nanoTime();
                        out.writeBlock(block, view);
                        add(seconds, "write", t);
                        if (resumable && !last) {
                            t = System.nanoTime();
                            Path hidden = states == null ? null : journal.hiddenFile(i + 1);
                            if (hidden != null) {
                                states.save(hidden);
                            }
                            journal.save(new RunJournal.Checkpoint(i + 1, out.checkpoint(), format.streamState(), results, skipped, bmms,
                                    seconds, hidden, worst.worst()));
                            add(seconds, "checkpoint", t);
                        }
                    }
                }
            } finally {
                if (states != null) {
                    states.close();
                }
            }
            model.outerLinears().forEach(name -> skipped.put(name, QuantPlanner.HEAD_IN_FLOAT)); // a streamed run needs qskip_lm_head
            t = System.nanoTime();
            out.copyThrough(model.trailingTensors());
            add(seconds, "write", t);
        }
        return new Outcome(new QuantReport(methodName, results, (System.nanoTime() - start) / 1e9), skipped, bmms, seconds, first, worst.worst());
    }

    private QuantPlan plan(Module block, BlockView view, NDManager m) {
        return plan(model, block, view, m, config);
    }

    /** The block's plan, from a trace of one forward pass on a few positions. */
    static QuantPlan plan(StreamedModel model, Module block, BlockView view, NDManager m, QuantConfig config) {
        int hidden = Math.toIntExact(view.linearLayers().getFirst().inFeatures());
        return ModelAnalyzer.planBlock(view, () -> {
            try (NDManager trace = m.newSubManager()) {
                NDArray x = trace.linspace(-1f, 1f, TRACE_TOKENS * hidden).reshape(new Shape(1, TRACE_TOKENS, hidden));
                model.runBlock(block, x, Attention.causalMask(trace, TRACE_TOKENS)).close();
            }
        }, config);
    }

    private static void add(Map<String, Double> seconds, String stage, long since) {
        seconds.merge(stage, (System.nanoTime() - since) / 1e9, Double::sum);
    }
}
