package org.fmsmo.core.session;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Scopes;

/**
 * The calibration examples at one block boundary: one {@code [B, T, H]} hidden state per batch,
 * with the batch's attention mask and which of its rows are real tokens. Moving them across a
 * block replaces each batch's state, so memory does not grow with depth. Owns its arrays.
 */
public final class HiddenStates implements AutoCloseable {

    /** One batch at the current block boundary; {@code realTokens} is null when no row is padding. */
    public record Batch(NDArray hidden, NDArray mask, NDArray realTokens) {
    }

    private final NDManager keep;
    private final List<Batch> batches = new ArrayList<>();

    private HiddenStates(NDManager keep) {
        this.keep = keep;
    }

    /**
     * The embeddings of every calibration batch.
     *
     * @param embed token ids and attention mask (null for none) → the first block's input
     */
    public static HiddenStates embed(CalibrationData data, NDManager parent, BiFunction<NDArray, NDArray, TransformerModel.BlockInput> embed) {
        HiddenStates states = new HiddenStates(parent.newSubManager());
        data.forEachBatch(states.keep, (ids, mask) -> {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                TransformerModel.BlockInput in = embed.apply(ids, mask);
                NDArray rows = mask == null ? null : Scopes.keep(mask.reshape(-1).toType(DataType.BOOLEAN, false), states.keep);
                states.batches.add(new Batch(Scopes.keep(in.hidden(), states.keep), Scopes.keep(in.mask(), states.keep), rows));
            }
        });
        return states;
    }

    public List<Batch> batches() {
        return java.util.Collections.unmodifiableList(batches);
    }

    /** Bytes the hidden states take. */
    public long bytes() {
        return batches.stream().mapToLong(b -> b.hidden().getShape().size() * 4).sum();
    }

    /** Replaces each batch's hidden state by {@code block}'s output on it. */
    public void advance(Function<Batch, NDArray> block) {
        for (int k = 0; k < batches.size(); k++) {
            Batch s = batches.get(k);
            NDArray next;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                next = Scopes.keep(block.apply(s), keep);
            }
            s.hidden().close();
            batches.set(k, new Batch(next, s.mask(), s.realTokens()));
        }
    }

    /** Runs {@code pass} on every batch, each in a scope of its own that frees what it made. */
    public void forEach(java.util.function.Consumer<Batch> pass) {
        for (Batch s : batches) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                pass.accept(s);
            }
        }
    }

    @Override
    public void close() {
        keep.close();
    }
}
