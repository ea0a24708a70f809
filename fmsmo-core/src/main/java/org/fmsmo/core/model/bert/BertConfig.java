package org.fmsmo.core.model.bert;

import org.fmsmo.core.hf.HfConfig;

/** The {@code config.json} of a BERT encoder ({@code bert}). */
public record BertConfig(int vocabSize, int hiddenSize, int numLayers, int numHeads, int intermediateSize,
                         int maxPositions, int typeVocabSize, double layerNormEps) {

    public static BertConfig from(HfConfig c) {
        int hidden = c.positive("hidden_size");
        int heads = c.positive("num_attention_heads");
        if (hidden % heads != 0) {
            throw c.invalid("num_attention_heads", "(" + heads + ") must divide hidden_size (" + hidden + ")");
        }
        String act = c.string("hidden_act", "gelu");
        if (!act.equals("gelu")) {
            throw c.invalid("hidden_act", "must be 'gelu' (the exact, erf-based GELU), found '" + act + "'");
        }
        String positions = c.string("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw c.invalid("position_embedding_type", "must be 'absolute', found '" + positions + "'");
        }
        return new BertConfig(c.positive("vocab_size"), hidden, c.positive("num_hidden_layers"), heads,
                c.positive("intermediate_size"), c.positive("max_position_embeddings", 512), c.positive("type_vocab_size", 2),
                c.numberBetween("layer_norm_eps", 1e-12, 0, 1));
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }
}
