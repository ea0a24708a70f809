package org.fmsmo.core.context;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.InputGroup;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.calibration.HiddenStates;

/**
 * GPTQ's stages inside one block: the planned layers that read one input (q/k/v, gate/up, or a
 * single layer) are quantized together, and for each stage the block is re-run on every batch
 * up to a tap on the stage's first layer, so the method sees that layer's input as computed
 * through the already-quantized earlier stages.
 */
final class BlockStages {

    private final QuantizableModel model;
    private final QuantPlan plan;

    BlockStages(QuantizableModel model, QuantPlan plan) {
        this.model = model;
        this.plan = plan;
    }

    /**
     * Quantizes {@code layers} (the block's planned layers, in forward order) stage by stage.
     *
     * @param block          runs the block (as the model now is) on one batch
     * @param trueSequential later stages see earlier ones quantized; when false every stage sees
     *                       the block's float layers
     * @param afterStage     given each stage's layers once they are frozen
     */
    void run(List<String> layers, HiddenStates states, Function<HiddenStates.Batch, NDArray> block, QuantContext.Stage stage,
             boolean trueSequential, Consumer<List<String>> afterStage) {
        List<String> done = new ArrayList<>();
        for (List<String> s : stages(layers)) {
            List<String> unquantized = trueSequential ? List.of() : List.copyOf(done);
            quantizeStage(stage, s, states, b -> withFloat(unquantized, () -> block.apply(b)));
            afterStage.accept(s);
            done.addAll(s);
        }
    }

    /** Layers that read one input, in forward order: a plan input group's planned members, else one layer. */
    List<List<String>> stages(List<String> layers) {
        List<List<String>> out = new ArrayList<>();
        Set<String> staged = new LinkedHashSet<>();
        for (String name : layers) {
            if (staged.contains(name)) {
                continue;
            }
            Optional<InputGroup> g = plan.inputGroup(name);
            List<String> stage = g.isPresent() ? layers.stream().filter(g.get().layers()::contains).toList() : List.of(name);
            staged.addAll(stage);
            out.add(stage);
        }
        return out;
    }

    /** Runs {@code pass} with the named (quantized) layers temporarily swapped back to the float layers they wrap. */
    private NDArray withFloat(List<String> layers, java.util.function.Supplier<NDArray> pass) {
        List<LayerWrapper> swapped = new ArrayList<>();
        try {
            for (String name : layers) {
                LayerWrapper w = (LayerWrapper) model.linear(name);
                model.replace(name, w.wrapped());
                swapped.add(w);
            }
            return pass.get();
        } finally {
            for (LayerWrapper w : swapped) {
                model.replace(w.name(), w);
            }
        }
    }

    void quantizeStage(QuantContext.Stage stage, List<String> layers, HiddenStates states, Function<HiddenStates.Batch, NDArray> pass) {
        String first = layers.getFirst();
        stage.quantize(layers, consumer -> {
            LinearLayer original = model.linear(first);
            Tap tap = new Tap(original, consumer);
            model.replace(first, tap);
            try {
                states.forEach(s -> {
                    tap.realTokens = s.realTokens();
                    try {
                        pass.apply(s);
                    } catch (Captured done) {
                        // the stage's input is taken; the rest of the block would only be thrown away
                    }
                });
            } finally {
                model.replace(first, original);
            }
        });
        for (String name : layers) {
            if (!(model.linear(name) instanceof LayerWrapper w) || !w.isFrozen()) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "the method's sequential stage left layer " + name
                        + " unquantized; each stage must wrap and freeze its layers");
            }
        }
    }

    /**
     * Ends a capture pass at the tap: what the block computes after the stage's input is not
     * needed, and at 8B shapes skipping it saves most of the capture time (the q/k/v stage needs
     * only the input norm, the MLP stages never run the layers after them).
     */
    private static final class Captured extends RuntimeException {
        Captured() {
            super("input captured", null, false, false);
        }
    }

    /** Gives the method each batch's input rows (padding left out), then stops the pass ({@link Captured}). */
    private static final class Tap extends PassThroughLinear {
        private final Consumer<NDArray> consumer;
        private NDArray realTokens;

        Tap(LinearLayer wrapped, Consumer<NDArray> consumer) {
            super(wrapped);
            this.consumer = consumer;
        }

        @Override
        void observe(NDArray x) {
            NDArray rows = x.reshape(-1, inFeatures());
            if (realTokens == null) {
                consumer.accept(rows);
            } else {
                // A mask of the rows' own shape selects elements in row-major order: the real rows, flattened.
                NDArray wide = realTokens.reshape(-1, 1).broadcast(rows.getShape());
                consumer.accept(rows.booleanMask(wide).reshape(-1, inFeatures()));
            }
            throw new Captured();
        }
    }
}
