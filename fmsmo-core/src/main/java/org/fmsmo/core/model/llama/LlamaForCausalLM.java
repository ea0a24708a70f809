package org.fmsmo.core.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.ArrayList;
import java.util.List;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Embedding;
import org.fmsmo.core.nn.Group;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.nn.ModuleList;
import org.fmsmo.core.nn.RmsNorm;
import org.fmsmo.core.nn.RotaryEmbedding;
import org.fmsmo.core.nn.Scopes;
import org.fmsmo.core.nn.Weights;

/**
 * HF's {@code LlamaForCausalLM} (also Mistral without sliding windows, and Qwen2 with its q/k/v
 * biases): token embedding, decoder blocks, final RMSNorm and the {@code lm_head} projection,
 * tied to the embedding when the config says so.
 */
public final class LlamaForCausalLM extends CausalLM {

    private final LlamaConfig config;
    private final Embedding embedTokens;
    private final List<LlamaDecoderLayer> layers;
    private final RmsNorm norm;
    private final RotaryEmbedding rope;

    /** Builds the model from checkpoint tensors; the arrays land in {@code weights.manager()}. */
    public LlamaForCausalLM(HfConfig hf, Weights w) {
        super(hf, w.manager());
        this.config = LlamaConfig.from(hf);
        LlamaConfig c = config;
        Group model = addModule("model", new Group());
        this.embedTokens = model.add("embed_tokens", new Embedding(w.take("model.embed_tokens.weight", c.vocabSize(), c.hiddenSize())));
        List<LlamaDecoderLayer> list = new ArrayList<>();
        for (int i = 0; i < c.numLayers(); i++) {
            list.add(new LlamaDecoderLayer(c, w, "model.layers." + i));
        }
        this.layers = model.add("layers", new ModuleList<>(list)).items();
        this.norm = model.add("norm", new RmsNorm(w.take("model.norm.weight", c.hiddenSize()), c.rmsNormEps()));
        if (c.tieWordEmbeddings() && !w.has("lm_head.weight")) {
            addLinear("lm_head", new Linear("lm_head", embedTokens.weight(), null));
        } else {
            addLinear("lm_head", w.linear("lm_head", c.hiddenSize(), c.vocabSize(), false));
        }
        this.rope = new RotaryEmbedding(w.manager(), c.inverseFrequencies(), c.maxPositions());
    }

    public LlamaConfig llamaConfig() {
        return config;
    }

    @Override
    public NDArray logits(NDArray inputIds) {
        NDManager out = inputIds.getManager();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return Scopes.keep(head(runBlocks(blockInput(inputIds, null))), out);
        }
    }

    /** The causal mask serves every batch; a padding mask is not used (calibration windows are full). */
    @Override
    public BlockInput blockInput(NDArray inputIds, NDArray attentionMask) {
        int t = Math.toIntExact(inputIds.getShape().get(1));
        return new BlockInput(embedTokens.forward(inputIds), Attention.causalMask(inputIds.getManager(), t));
    }

    @Override
    public List<? extends org.fmsmo.core.nn.Module> blocks() {
        return layers;
    }

    @Override
    public NDArray runBlock(int i, NDArray hidden, NDArray mask) {
        return layers.get(i).forward(hidden, rope, mask);
    }

    @Override
    public NDArray head(NDArray hidden) {
        return linear("lm_head", norm.forward(hidden));
    }
}
