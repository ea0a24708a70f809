package org.fmsmo.core.context;

import ai.djl.ndarray.NDArray;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.calibration.HiddenStates;
import org.fmsmo.core.model.BlockView;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.StepMemo;

/**
 * One materialised block of a streamed model, fed with the calibration hidden states at its
 * input (computed through the earlier blocks, already quantized). A method that runs on a
 * {@link DefaultQuantContext} over this scope calibrates, smooths and quantizes just this block.
 */
public final class BlockScope implements CalibrationScope, AutoCloseable {

    private final StreamedModel stream;
    private final Module block;
    private final BlockView view;
    private final HiddenStates states;
    private final java.util.function.Consumer<LayerWrapper> beforeRelease;
    /** What the stage passes computed that later passes reuse; null outside a sequential method. */
    private StepMemo memo;

    /**
     * @param states        null when the run has no calibration examples
     * @param beforeRelease told of each frozen layer whose float weight is about to be freed (the
     *                      report's weight histogram is taken there); the last chance to read it
     */
    public BlockScope(StreamedModel stream, Module block, BlockView view, HiddenStates states,
                      java.util.function.Consumer<LayerWrapper> beforeRelease) {
        this.stream = stream;
        this.block = block;
        this.view = view;
        this.states = states;
        this.beforeRelease = beforeRelease;
    }

    @Override
    public QuantizableModel model() {
        return view;
    }

    @Override
    public Module root() {
        return block;
    }

    @Override
    public boolean hasExamples() {
        return states != null;
    }

    @Override
    public void forward(int samples, ProgressListener progress) {
        progress.begin("calibration " + block.path(), Math.min(samples, states.samples()), "samples");
        try {
            states.forFirstSamples(samples, s -> {
                stream.runBlock(block, s.hidden(), s.mask()); // every step computed: these passes observe inside them
                progress.advance(s.hidden().getShape().get(0));
            });
        } finally {
            progress.end();
        }
    }

    @Override
    public void sequential(QuantPlan plan, QuantContext.Stage stage, boolean trueSequential) {
        Set<String> quantized = plan.quantized().stream().map(LayerDecision::name).collect(Collectors.toSet());
        List<String> inBlock = view.linearLayers().stream().map(LinearLayer::name).filter(quantized::contains).toList(); // forward order
        // Later stages' passes and the output pass reuse the steps earlier stages settled (the
        // attention half once o_proj is frozen). Not when a stage sees float layers again, nor
        // when attention matmuls calibrate inside the steps. It keeps its outputs in files beside
        // the offloaded states, or, without an offload folder, in what the states' budget leaves.
        close(); // a second sequential run starts from nothing
        Path dir = states.offloadDir() == null ? null : states.offloadDir().resolve("steps");
        if (trueSequential && plan.quantizedBmms().isEmpty() && (dir != null || states.offloaded() == 0)) {
            memo = new StepMemo(view.manager(), l -> l instanceof LayerWrapper w ? w.isFrozen() : !quantized.contains(l.name()), dir,
                    dir == null ? states.headroom() : Long.MAX_VALUE);
            block.useMemo(memo);
        }
        // Once a stage is frozen its layers compute with their dequantized codes; with true
        // sequential nothing reads their float weights again (the output stores the codes), so
        // they are freed at once rather than with the block.
        new BlockStages(view, plan).run(inBlock, states, this::run, stage, trueSequential,
                frozen -> {
                    if (trueSequential) {
                        frozen.forEach(this::releaseFloatWeight);
                    }
                });
    }

    /** The method changed the block other than by freezing layers (a smoothing fold): what passes computed before is stale. */
    @Override
    public void changed() {
        if (memo != null) {
            memo.clear();
        }
    }

    /** Moves the hidden states past the block as it now is (the next block's input), reusing what the stage passes settled. */
    public void advance() {
        states.advance(this::run);
    }

    /** The block on one batch, through the memo when there is one. */
    private NDArray run(HiddenStates.Batch s) {
        if (memo == null) {
            return stream.runBlock(block, s.hidden(), s.mask());
        }
        memo.begin(s.index());
        try {
            return stream.runBlock(block, s.hidden(), s.mask());
        } finally {
            memo.begin(-1);
        }
    }

    /** Frees what the memo holds; the block's passes are over. */
    @Override
    public void close() {
        if (memo != null) {
            block.useMemo(null);
            memo.close();
            memo = null;
        }
    }

    private void releaseFloatWeight(String layer) {
        if (view.linear(layer) instanceof LayerWrapper w && w.wrapped() instanceof Linear plain) {
            beforeRelease.accept(w);
            plain.releaseWeight();
        }
    }
}
