package org.fmsmo.core.model.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.BertSpec;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Embedding;
import org.fmsmo.core.nn.Group;
import org.fmsmo.core.nn.LayerNorm;
import org.fmsmo.core.nn.ModuleList;
import org.fmsmo.core.nn.Weights;

/**
 * HF's {@code BertModel}: word + absolute position + token type embeddings, LayerNorm, and the
 * encoder blocks. Checkpoints with a {@code bert.} prefix (from {@code BertFor…} heads) load too;
 * the pooler, unused for sentence embeddings, is left out.
 */
public final class BertModel extends SentenceEncoder {

    private final BertSpec config;
    private final Embedding words;
    private final Embedding positions;
    private final Embedding tokenTypes;
    private final LayerNorm embeddingNorm;
    private final List<BertLayer> layers;

    public BertModel(HfConfig hf, BertSpec spec, Weights w) {
        super(hf, w.manager());
        this.config = spec;
        BertSpec c = config;
        int h = c.hiddenSize();
        Group emb = addModule("embeddings", new Group());
        this.words = emb.add("word_embeddings", new Embedding(w.take("embeddings.word_embeddings.weight", c.vocabSize(), h)));
        this.positions = emb.add("position_embeddings", new Embedding(w.take("embeddings.position_embeddings.weight", c.maxPositions(), h)));
        this.tokenTypes = emb.add("token_type_embeddings", new Embedding(w.take("embeddings.token_type_embeddings.weight", c.typeVocabSize(), h)));
        this.embeddingNorm = emb.add("LayerNorm", BertLayer.layerNorm(w, "embeddings.LayerNorm", h, c.layerNormEps()));
        List<BertLayer> list = new ArrayList<>();
        for (int i = 0; i < c.numLayers(); i++) {
            list.add(new BertLayer(c, w, "encoder.layer." + i));
        }
        this.layers = addModule("encoder", new Group()).add("layer", new ModuleList<>(list)).items();
    }

    public BertSpec spec() {
        return config;
    }

    @Override
    public BlockInput blockInput(NDArray inputIds, NDArray attentionMask) {
        NDManager m = inputIds.getManager();
        long b = inputIds.getShape().get(0);
        if (inputIds.getShape().get(1) > config.maxPositions()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, inputIds.getShape().get(1) + " tokens exceed the model's "
                    + config.maxPositions() + " positions (max_position_embeddings)");
        }
        long t = inputIds.getShape().get(1);
        NDArray positionIds = positionIds(inputIds);
        NDArray typeIds = m.zeros(inputIds.getShape(), DataType.INT64);
        NDArray x = embeddingNorm.forward(words.forward(inputIds).add(positions.forward(positionIds)).add(tokenTypes.forward(typeIds)));
        NDArray keep = attentionMask != null ? attentionMask : m.ones(inputIds.getShape(), DataType.INT64);
        return new BlockInput(x, Attention.paddingMask(keep));
    }

    /**
     * BERT's {@code 0..T−1}; RoBERTa's count real tokens from {@code paddingIdx + 1} and give
     * padding tokens {@code paddingIdx} (HF's {@code create_position_ids_from_input_ids}).
     */
    private NDArray positionIds(NDArray inputIds) {
        NDManager m = inputIds.getManager();
        long b = inputIds.getShape().get(0);
        int t = Math.toIntExact(inputIds.getShape().get(1));
        int pad = config.paddingIdx();
        if (pad < 0) {
            return m.arange(0, t, 1, DataType.INT64).broadcast(b, t);
        }
        long[] ids = inputIds.toLongArray();
        long[] pos = new long[ids.length];
        for (int r = 0; r < b; r++) {
            long count = 0;
            for (int i = 0; i < t; i++) {
                int k = r * t + i;
                pos[k] = ids[k] == pad ? pad : pad + ++count;
            }
        }
        long last = java.util.Arrays.stream(pos).max().orElse(0);
        if (last >= config.maxPositions()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, t + " tokens need position " + last + ", beyond the model's "
                    + config.maxPositions() + " positions (max_position_embeddings, counted from pad_token_id + 1)");
        }
        return m.create(pos, new ai.djl.ndarray.types.Shape(b, t));
    }

    @Override
    public List<? extends org.fmsmo.core.nn.Module> blocks() {
        return layers;
    }

    @Override
    public NDArray runBlock(int i, NDArray hidden, NDArray mask) {
        return layers.get(i).forward(hidden, mask);
    }

    @Override
    public NDArray head(NDArray hidden) {
        return hidden;
    }
}
