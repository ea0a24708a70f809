package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import java.util.List;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Embedding;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Weights;

/**
 * A whole decoder in memory, built from its {@link TransformerSpec}: embedding, blocks, head. The
 * module tree follows the checkpoint's names, so weights are found, swapped and written under
 * the names they were read with.
 */
public final class TransformerForCausalLM extends CausalLM {

    private final TransformerSpec spec;
    private final Embedding embedding;
    private final Embedding positions;
    private final List<TransformerBlock> layers;
    private final LmHead head;

    /** Builds the model from checkpoint tensors; the arrays land in {@code weights.manager()}. */
    public TransformerForCausalLM(HfConfig hf, TransformerSpec s, Weights w) {
        super(hf, w.manager());
        this.spec = s;
        Ropes ropes = new Ropes(s, hf, w.manager(), s.maxPositions());
        this.embedding = TransformerBlock.addEmbedding(this, s, w);
        String pos = s.names().of(Part.POSITION_EMBEDDING);
        this.positions = s.positions() == TransformerSpec.Positions.LEARNED
                ? addModuleAt(pos, new Embedding(w.take(pos + ".weight", s.maxPositions(), s.hiddenSize()))) : null;
        this.layers = TransformerBlock.addAll(this, s, w, ropes);
        this.head = new LmHead(s, w, this, embedding::weight);
    }

    /** The description this model was built from. */
    public TransformerSpec spec() {
        return spec;
    }

    /** GPT-2's linear weights are stored {@code [in, out]}: the writer transposes them back. */
    @Override
    public java.util.Set<String> transposedParameters() {
        if (!spec.transposedWeights()) {
            return java.util.Set.of();
        }
        java.util.Set<String> names = new java.util.LinkedHashSet<>();
        for (var l : linearLayers()) {
            if (!outputHeads().contains(l.name())) {
                names.add(l.name() + ".weight");
            }
        }
        return names;
    }

    /** The causal mask serves every batch; a padding mask is not used (calibration windows are full). */
    @Override
    public BlockInput blockInput(NDArray inputIds, NDArray attentionMask) {
        int t = Math.toIntExact(inputIds.getShape().get(1));
        NDArray x = Embeddings.finish(spec, embedding.forward(inputIds), positions == null ? null : positions.weight());
        return new BlockInput(x, Attention.causalMask(inputIds.getManager(), t));
    }

    @Override
    public List<? extends Module> blocks() {
        return layers;
    }

    @Override
    public NDArray runBlock(int i, NDArray hidden, NDArray mask) {
        return layers.get(i).forward(hidden, mask);
    }

    @Override
    public NDArray head(NDArray hidden) {
        return head.forward(hidden, this::linear);
    }

    // For ResidualRotation: the tensors and modules a rotation of the residual stream rewrites.

    NDArray embeddingTable() {
        return embedding.weight();
    }

    /** The learned position table (GPT-2), or null. */
    NDArray positionTable() {
        return positions == null ? null : positions.weight();
    }

    List<TransformerBlock> transformerBlocks() {
        return layers;
    }

    org.fmsmo.core.nn.Normalization finalNorm() {
        return head.norm();
    }

    /** The output projection's full name. */
    String headLinear() {
        return head.lmHead();
    }

    /** Whether the head computes with the embedding table (no lm_head of its own). */
    boolean tiedHead() {
        return head.tied();
    }
}
