package org.fmsmo.core.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.format.CheckpointFormat;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.core.model.BlockView;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.session.BlockScope;
import org.fmsmo.core.session.CalibrationData;
import org.fmsmo.core.session.DefaultQuantContext;
import org.fmsmo.core.session.HiddenStates;
import org.fmsmo.core.session.ModelAnalyzer;

/**
 * Quantization layer by layer (llm-compressor's sequential onloading): weights stay mapped; for
 * each decoder block in turn the block is materialised, planned from a trace of its own forward
 * pass, quantized by the method with a context scoped to it (its calibration inputs are the
 * hidden states after the earlier, already-quantized blocks), run once more to move the hidden
 * states past it, written to the output and freed. Memory holds one block, the hidden states and
 * the method's work arrays, whatever the depth.
 */
final class StreamedRun {

    /** Positions of the trace a block is planned from; the model must be opened for at least this many. */
    static final int TRACE_TOKENS = 4;

    /** What the run gives back besides the written folder. */
    record Outcome(QuantReport report, int skipped, int bmms, Map<String, Double> stageSeconds) {
    }

    private final StreamedModel model;
    private final String methodName;
    private final QuantMethod method;
    private final CheckpointFormat format;
    private final QuantConfig config;
    private final PluginRegistry registry;
    private final ProgressListener progress;
    private final ModelAnalyzer analyzer;

    StreamedRun(StreamedModel model, String methodName, QuantMethod method, CheckpointFormat format, QuantConfig config, PluginRegistry registry,
                ProgressListener progress, ModelAnalyzer analyzer) {
        this.model = model;
        this.methodName = methodName;
        this.method = method;
        this.format = format;
        this.config = config;
        this.registry = registry;
        this.progress = progress;
        this.analyzer = analyzer;
    }

    /** Plans block 0 and lets the format refuse the plan before any work. */
    void checkPlan() {
        try (NDManager m = NDManager.newBaseManager()) {
            Module block = model.loadBlock(0, m);
            BlockView view = new BlockView(model.config().architecture(model.config().modelType()), block, m);
            format.checkPlan(view, plan(block, view, m));
        }
    }

    Outcome run(CalibrationData data, Path target, long maxShardBytes) {
        Map<String, Double> seconds = new LinkedHashMap<>();
        List<QuantReport.LayerResult> results = new ArrayList<>();
        int skipped = 0;
        int bmms = 0;
        long start = System.nanoTime();
        try (StreamedOutput out = new StreamedOutput(model, format, target, maxShardBytes);
             NDManager root = NDManager.newBaseManager()) {
            long t = System.nanoTime();
            out.copyThrough(model.leadingTensors());
            HiddenStates states = data == null ? null : HiddenStates.embed(data, root, model::blockInput);
            add(seconds, "embed_and_copy", t);
            try {
                for (int i = 0; i < model.numBlocks(); i++) {
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
                        QuantReport r = method.quantize(new DefaultQuantContext(new BlockScope(model, block, view, states), plan, config,
                                registry, progress));
                        results.addAll(r.layers());
                        skipped += (int) plan.layers().stream().filter(d -> d.kind().equals(LayerDecision.LINEAR) && !d.quantize()).count();
                        bmms += plan.quantizedBmms().size();
                        add(seconds, "quantize", t);
                        t = System.nanoTime();
                        if (states != null && i + 1 < model.numBlocks()) {
                            states.advance(s -> model.runBlock(block, s.hidden(), s.mask()));
                        }
                        add(seconds, "forward", t);
                        t = System.nanoTime();
                        out.writeBlock(block, view);
                        add(seconds, "write", t);
                    }
                }
            } finally {
                if (states != null) {
                    states.close();
                }
            }
            t = System.nanoTime();
            out.copyThrough(model.trailingTensors());
            out.commit(target);
            add(seconds, "write", t);
        }
        return new Outcome(new QuantReport(methodName, results,
                (System.nanoTime() - start) / 1e9), skipped, bmms, seconds);
    }

    /** The block's plan, from a trace of one forward pass on a few random positions. */
    private QuantPlan plan(Module block, BlockView view, NDManager m) {
        int hidden = Math.toIntExact(view.linearLayers().getFirst().inFeatures());
        return analyzer.planBlock(view, () -> {
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
