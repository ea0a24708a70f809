package org.fmsmo.core.model.llama;

import ai.djl.ndarray.NDArray;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Trace;
import org.fmsmo.core.nn.RmsNorm;
import org.fmsmo.core.nn.RotaryEmbedding;
import org.fmsmo.core.nn.Scopes;
import org.fmsmo.core.nn.Weights;

/** One pre-norm decoder block: {@code h = x + attn(norm(x)); out = h + mlp(norm(h))}. */
final class LlamaDecoderLayer extends Module {

    private final LlamaAttention attention;
    private final LlamaMlp mlp;
    private final RmsNorm inputNorm;
    private final RmsNorm postAttentionNorm;

    LlamaDecoderLayer(LlamaConfig c, Weights w, String prefix) {
        this.attention = addModule("self_attn", new LlamaAttention(c, w, prefix + ".self_attn"));
        this.mlp = addModule("mlp", new LlamaMlp(c, w, prefix + ".mlp"));
        this.inputNorm = addModule("input_layernorm",
                new RmsNorm(w.take(prefix + ".input_layernorm.weight", c.hiddenSize()), c.rmsNormEps()));
        this.postAttentionNorm = addModule("post_attention_layernorm",
                new RmsNorm(w.take(prefix + ".post_attention_layernorm.weight", c.hiddenSize()), c.rmsNormEps()));
    }

    NDArray forward(NDArray x, RotaryEmbedding rope, NDArray mask) {
        // Each half in a scope of its own: its intermediates (norm, rotary, scores) are freed as
        // soon as its output exists, not when the caller's scope ends.
        NDArray a = Scopes.step(() -> attention.forward(inputNorm.forward(x), rope, mask));
        NDArray h = Trace.call("add", path(), x.add(a), x, a);
        NDArray m = Scopes.step(() -> mlp.forward(postAttentionNorm.forward(h)));
        return Trace.call("add", path(), h.add(m), h, m);
    }
}
