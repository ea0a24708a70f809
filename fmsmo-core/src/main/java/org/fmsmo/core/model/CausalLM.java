package org.fmsmo.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fmsmo.core.hf.HfConfig;

/** A decoder that predicts the next token. */
public abstract class CausalLM extends TransformerModel {

    protected CausalLM(HfConfig config, NDManager manager) {
        super(config, manager);
    }

    /**
     * Next-token logits for every position.
     *
     * @param inputIds INT64 {@code [B, T]}
     * @return FLOAT32 {@code [B, T, vocab]} in {@code inputIds}' manager; every intermediate array is freed
     */
    public NDArray logits(NDArray inputIds) {
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            return org.fmsmo.core.nn.Scopes.keep(head(runBlocks(blockInput(inputIds, null))), inputIds.getManager());
        }
    }

    @Override
    public final org.fmsmo.api.arch.ArchitectureSpec.Task task() {
        return org.fmsmo.api.arch.ArchitectureSpec.Task.CAUSAL_LM;
    }
}
