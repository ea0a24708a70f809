package org.fmsmo.core.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Weights;

/** SwiGLU feed-forward: {@code down(silu(gate(x)) ⊙ up(x))} ({@code mlp}). */
final class LlamaMlp extends Module {

    LlamaMlp(LlamaConfig c, Weights w, String prefix) {
        addLinear("gate_proj", w.linear(prefix + ".gate_proj", c.hiddenSize(), c.intermediateSize(), c.mlpBias()));
        addLinear("up_proj", w.linear(prefix + ".up_proj", c.hiddenSize(), c.intermediateSize(), c.mlpBias()));
        addLinear("down_proj", w.linear(prefix + ".down_proj", c.intermediateSize(), c.hiddenSize(), c.mlpBias()));
    }

    NDArray forward(NDArray x) {
        NDArray g = linear("gate_proj", x);
        NDArray silu = g.mul(Activation.sigmoid(g));
        return linear("down_proj", silu.mul(linear("up_proj", x)));
    }
}
