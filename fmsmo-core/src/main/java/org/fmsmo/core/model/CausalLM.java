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
    public abstract NDArray logits(NDArray inputIds);

    @Override
    public final org.fmsmo.api.arch.ArchitectureSpec.Task task() {
        return org.fmsmo.api.arch.ArchitectureSpec.Task.CAUSAL_LM;
    }
}
