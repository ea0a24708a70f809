package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.api.quant.Scalars;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Normalization;
import org.fmsmo.core.nn.Weights;

/**
 * What follows the blocks: the final norm and the output projection (or the embedding table
 * when the two are tied), then Granite's logits divisor and Gemma 2's soft cap. Its paths are the
 * checkpoint's ({@code model.norm}, {@code lm_head}), so it can be added to a whole model or
 * stand alone in a streamed one.
 */
final class LmHead {

    private final TransformerSpec spec;
    private final Normalization norm;
    private final String lmHead;
    private final boolean tied;

    /**
     * Registers the norm and head in {@code root} (a model, or a stand-alone head module), at the checkpoint's paths.
     *
     * @param embedding the embedding table when the head is tied to it and the checkpoint has no head of its own
     */
    LmHead(TransformerSpec s, Weights w, Module root, java.util.function.Supplier<NDArray> embedding) {
        this.spec = s;
        String normName = s.names().of(Part.FINAL_NORM);
        this.norm = (Normalization) root.addModuleAt(normName, TransformerBlock.norm(s, w, normName, s.hiddenSize()));
        this.lmHead = s.names().of(Part.LM_HEAD);
        this.tied = s.tieWordEmbeddings() && !w.has(lmHead + ".weight");
        if (tied) {
            root.addLinearAt(lmHead, new Linear(lmHead, embedding.get(), null));
        } else {
            root.addLinearAt(lmHead, w.linear(lmHead, s.hiddenSize(), s.vocabSize(), false));
        }
    }

    /** The output projection's name (at the model's root, so its full name). */
    String lmHead() {
        return lmHead;
    }

    Normalization norm() {
        return norm;
    }

    /** Whether the head is the embedding table itself (tied, no lm_head stored). */
    boolean tied() {
        return tied;
    }

    /**
     * Logits {@code [B, T, vocab]}.
     *
     * @param head the module holding the {@code lm_head} slot (read through it, so a swap takes effect)
     */
    NDArray forward(NDArray hidden, java.util.function.BiFunction<String, NDArray, NDArray> head) {
        NDArray logits = head.apply(lmHead, norm.forward(hidden));
        double divisor = spec.scaling().logitsDivisor();
        if (divisor != 1) {
            logits = Scalars.div(logits, (float) divisor);
        }
        double cap = spec.scaling().finalSoftcap();
        if (cap > 0) {
            logits = Scalars.mul(Scalars.div(logits, (float) cap).tanh(), (float) cap);
        }
        return logits;
    }
}
