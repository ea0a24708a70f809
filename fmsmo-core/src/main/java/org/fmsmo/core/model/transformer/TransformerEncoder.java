package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.List;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Embedding;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Normalization;
import org.fmsmo.core.nn.Weights;

/**
 * A bidirectional pre-norm encoder (ModernBERT) built from its {@link TransformerSpec}: token
 * embedding and its norm, the blocks (rotary positions, full or windowed attention over the
 * unpadded tokens), and the final norm, whose output is the last hidden state.
 */
public final class TransformerEncoder extends SentenceEncoder {

    private final TransformerSpec spec;
    private final Embedding embedding;
    private final Normalization embeddingNorm;
    private final List<TransformerBlock> layers;
    private final Normalization finalNorm;

    public TransformerEncoder(HfConfig hf, TransformerSpec s, Weights w) {
        super(hf, w.manager());
        this.spec = s;
        Ropes ropes = new Ropes(s, hf, w.manager(), s.maxPositions());
        this.embedding = TransformerBlock.addEmbedding(this, s, w);
        String embNorm = s.names().of(Part.EMBEDDING_NORM);
        this.embeddingNorm = s.encoder().embeddingNorm()
                ? (Normalization) addModuleAt(embNorm, TransformerBlock.norm(s, w, embNorm, s.hiddenSize())) : null;
        this.layers = TransformerBlock.addAll(this, s, w, ropes);
        String norm = s.names().of(Part.FINAL_NORM);
        this.finalNorm = (Normalization) addModuleAt(norm, TransformerBlock.norm(s, w, norm, s.hiddenSize()));
    }

    public TransformerSpec spec() {
        return spec;
    }

    @Override
    public BlockInput blockInput(NDArray inputIds, NDArray attentionMask) {
        NDArray x = embedding.forward(inputIds);
        if (embeddingNorm != null) {
            x = embeddingNorm.forward(x);
        }
        NDArray keep = attentionMask != null ? attentionMask : inputIds.getManager().ones(inputIds.getShape(), DataType.INT64);
        return new BlockInput(x, Attention.paddingMask(keep));
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
        return finalNorm.forward(hidden);
    }
}
