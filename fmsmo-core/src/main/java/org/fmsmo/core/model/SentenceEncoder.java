package org.fmsmo.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fmsmo.core.hf.HfConfig;

/** An encoder whose pooled, normalised output is a sentence embedding. */
public abstract class SentenceEncoder extends TransformerModel {

    protected SentenceEncoder(HfConfig config, NDManager manager) {
        super(config, manager);
    }

    /**
     * The last layer's hidden states.
     *
     * @param inputIds      INT64 {@code [B, T]}
     * @param attentionMask INT64 {@code [B, T]}, 1 for tokens and 0 for padding
     * @return FLOAT32 {@code [B, T, hidden]} in {@code inputIds}' manager
     */
    public NDArray hiddenStates(NDArray inputIds, NDArray attentionMask) {
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            return org.fmsmo.core.nn.Scopes.keep(head(runBlocks(blockInput(inputIds, attentionMask))), inputIds.getManager());
        }
    }

    /**
     * Sentence embeddings: hidden states pooled over the real tokens, then L2-normalised
     * (sentence-transformers' mean pooling + Normalize).
     *
     * @return FLOAT32 {@code [B, hidden]}, unit length, in {@code inputIds}' manager
     */
    public NDArray embed(NDArray inputIds, NDArray attentionMask) {
        NDArray h = hiddenStates(inputIds, attentionMask);
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            NDArray m = attentionMask.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).expandDims(-1);
            NDArray pooled = h.mul(m).sum(new int[] {1}).div(m.sum(new int[] {1}).clip(1e-9f, Float.MAX_VALUE));
            NDArray norm = pooled.norm(new int[] {-1}, true).clip(1e-12f, Float.MAX_VALUE);
            NDArray out = pooled.div(norm);
            scope.suppressNotUsedWarning();
            h.close();
            return org.fmsmo.core.nn.Scopes.keep(out, inputIds.getManager());
        }
    }

    @Override
    public final org.fmsmo.api.arch.ArchitectureSpec.Task task() {
        return org.fmsmo.api.arch.ArchitectureSpec.Task.SENTENCE_ENCODER;
    }
}
