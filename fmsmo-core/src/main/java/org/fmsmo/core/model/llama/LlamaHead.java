package org.fmsmo.core.model.llama;

import ai.djl.ndarray.NDArray;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.RmsNorm;
import org.fmsmo.core.nn.Weights;

/**
 * What follows a Llama-family decoder's blocks: the final norm and the output projection
 * ({@code model.norm}, {@code lm_head}, or the embedding table when the two are tied), as
 * {@link LlamaForCausalLM#head} computes them.
 */
final class LlamaHead extends Module {

    private final RmsNorm norm;

    LlamaHead(LlamaConfig c, Weights w, String embedding) {
        this.norm = addModule("norm", new RmsNorm(w.take("model.norm.weight", c.hiddenSize()), c.rmsNormEps()));
        if (c.tieWordEmbeddings() && !w.has("lm_head.weight")) {
            addLinear("lm_head", new Linear("lm_head", w.take(embedding, c.vocabSize(), c.hiddenSize()), null));
        } else {
            addLinear("lm_head", w.linear("lm_head", c.hiddenSize(), c.vocabSize(), false));
        }
    }

    /** Logits {@code [B, T, vocab]} of the last block's output. */
    NDArray forward(NDArray hidden) {
        return linear("lm_head", norm.forward(hidden));
    }
}
