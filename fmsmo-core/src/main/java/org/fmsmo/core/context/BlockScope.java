package org.fmsmo.core.context;

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

/**
 * One materialised block of a streamed model, fed with the calibration hidden states at its
 * input (computed through the earlier blocks, already quantized). A method that runs on a
 * {@link DefaultQuantContext} over this scope calibrates, smooths and quantizes just this block.
 */
public final class BlockScope implements CalibrationScope {

    private final StreamedModel stream;
    private final Module block;
    private final BlockView view;
    private final HiddenStates states;
    private final java.util.function.Consumer<LayerWrapper> beforeRelease;

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
    public void forward(int batches, ProgressListener progress) {
        progress.begin("calibration " + block.path(), Math.min(batches, states.size()), "batches");
        try {
            states.forFirst(batches, s -> {
                stream.runBlock(block, s.hidden(), s.mask());
                progress.advance(1);
            });
        } finally {
            progress.end();
        }
    }

    @Override
    public void sequential(QuantPlan plan, QuantContext.Stage stage, boolean trueSequential) {
        Set<String> quantized = plan.quantized().stream().map(LayerDecision::name).collect(Collectors.toSet());
        List<String> inBlock = view.linearLayers().stream().map(LinearLayer::name).filter(quantized::contains).toList(); // forward order
        // Once a stage is frozen its layers compute with their dequantized codes; with true
        // sequential nothing reads their float weights again (the output stores the codes), so
        // they are freed at once rather than with the block.
        new BlockStages(view, plan).run(inBlock, states, s -> stream.runBlock(block, s.hidden(), s.mask()), stage, trueSequential,
                frozen -> {
                    if (trueSequential) {
                        frozen.forEach(this::releaseFloatWeight);
                    }
                });
    }

    private void releaseFloatWeight(String layer) {
        if (view.linear(layer) instanceof LayerWrapper w && w.wrapped() instanceof Linear plain) {
            beforeRelease.accept(w);
            plain.releaseWeight();
        }
    }
}
