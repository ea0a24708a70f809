package org.fmsmo.core.session;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.InputGroup;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Scopes;

/**
 * The host side of {@link QuantContext#sequential}: keeps every calibration batch's hidden state
 * at the current block boundary (one {@code [B, T, H]} array per batch, whatever the depth), runs
 * one block at a time, and for each stage re-runs the block with a tap on the stage's first layer
 * so the method sees that layer's input as computed through the already-quantized earlier stages.
 * Layers outside the blocks ({@code lm_head}, when planned) are staged last, through the head.
 */
final class SequentialRunner {

    /** One batch at the current block boundary. */
    private record State(NDArray hidden, NDArray mask, NDArray realTokens) {
    }

    private final TransformerModel model;
    private final QuantPlan plan;
    private final CalibrationData data;
    private final boolean trueSequential;

    /**
     * @param trueSequential within a block, later stages see earlier stages quantized; when
     *                       false every stage sees the block's float layers (the block's output
     *                       is still computed quantized before the next block)
     */
    SequentialRunner(TransformerModel model, QuantPlan plan, CalibrationData data, boolean trueSequential) {
        this.model = model;
        this.plan = plan;
        this.data = data;
        this.trueSequential = trueSequential;
    }

    void run(QuantContext.Stage stage) {
        List<String> planned = new ArrayList<>();
        Set<String> quantized = new LinkedHashSet<>();
        plan.quantized().forEach(d -> quantized.add(d.name()));
        for (LinearLayer l : model.linearLayers()) {
            if (quantized.contains(l.name())) {
                planned.add(l.name()); // forward order
            }
        }
        List<? extends Module> blocks = model.blocks();
        try (NDManager keep = model.manager().newSubManager()) {
            List<State> states = embed(keep);
            Set<String> done = new LinkedHashSet<>();
            for (int i = 0; i < blocks.size(); i++) {
                String prefix = blocks.get(i).path() + ".";
                List<String> inBlock = planned.stream().filter(n -> n.startsWith(prefix)).toList();
                int block = i;
                List<String> doneInBlock = new ArrayList<>();
                for (List<String> layers : stages(inBlock)) {
                    List<String> unquantized = trueSequential ? List.of() : List.copyOf(doneInBlock);
                    quantizeStage(stage, layers, states, (s, tap) -> withFloat(unquantized, () -> model.runBlock(block, s.hidden(), s.mask())));
                    done.addAll(layers);
                    doneInBlock.addAll(layers);
                }
                if (inBlock.isEmpty() && planned.stream().noneMatch(n -> !done.contains(n))) {
                    break; // nothing left to quantize: later blocks need not run
                }
                advance(states, s -> model.runBlock(block, s.hidden(), s.mask()), keep);
            }
            List<String> rest = planned.stream().filter(n -> !done.contains(n)).toList();
            for (List<String> layers : stages(rest)) {
                quantizeStage(stage, layers, states, (s, tap) -> model.head(s.hidden()));
            }
        }
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

    /** The embeddings of every calibration batch, kept in {@code keep}. */
    private List<State> embed(NDManager keep) {
        List<State> states = new ArrayList<>();
        data.forEachBatch(keep, (ids, mask) -> {
            try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                scope.suppressNotUsedWarning();
                TransformerModel.BlockInput in = model.blockInput(ids, mask);
                NDArray rows = mask == null ? null : Scopes.keep(mask.reshape(-1).toType(DataType.BOOLEAN, false), keep);
                states.add(new State(Scopes.keep(in.hidden(), keep), Scopes.keep(in.mask(), keep), rows));
            }
        });
        return states;
    }

    /** Layers that read one input, in forward order: a plan input group's planned members, else one layer. */
    private List<List<String>> stages(List<String> layers) {
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

    private interface Pass {
        NDArray run(State s, Tap tap);
    }

    private void quantizeStage(QuantContext.Stage stage, List<String> layers, List<State> states, Pass pass) {
        String first = layers.getFirst();
        stage.quantize(layers, consumer -> {
            LinearLayer original = model.linear(first);
            Tap tap = new Tap(original, consumer);
            model.replace(first, tap);
            try {
                for (State s : states) {
                    try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                        scope.suppressNotUsedWarning();
                        tap.realTokens = s.realTokens();
                        pass.run(s, tap);
                    }
                }
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

    /** Replaces each batch's hidden state by the block's output. */
    private void advance(List<State> states, java.util.function.Function<State, NDArray> block, NDManager keep) {
        for (int k = 0; k < states.size(); k++) {
            State s = states.get(k);
            NDArray next;
            try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                scope.suppressNotUsedWarning();
                next = Scopes.keep(block.apply(s), keep);
            }
            s.hidden().close();
            states.set(k, new State(next, s.mask(), s.realTokens()));
        }
    }

    /** Passes through, giving the method each batch's input rows (padding left out). */
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
                return;
            }
            // A mask of the rows' own shape selects elements in row-major order: the real rows, flattened.
            NDArray wide = realTokens.reshape(-1, 1).broadcast(rows.getShape());
            consumer.accept(rows.booleanMask(wide).reshape(-1, inFeatures()));
        }
    }
}
