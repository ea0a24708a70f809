package org.fmsmo.api.arch;

import org.fmsmo.api.Experimental;

/**
 * A BERT-style post-norm encoder: word + learned position + token-type embeddings, LayerNorm,
 * blocks of attention and a GELU MLP, each followed by a residual LayerNorm. Weights carry HF's
 * {@code BertModel} names (an optional {@code bert.}/{@code roberta.} prefix is accepted).
 *
 * @param vocabSize        rows of the word embedding
 * @param hiddenSize       model width
 * @param numLayers        blocks
 * @param numHeads         attention heads (dividing {@code hiddenSize})
 * @param intermediateSize MLP width
 * @param maxPositions     rows of the position embedding
 * @param typeVocabSize    rows of the token-type embedding
 * @param layerNormEps     ε of every LayerNorm
 * @param paddingIdx       RoBERTa's positions: a real token's position id is {@code paddingIdx + 1 + i} and a
 *                         padding token's (id {@code paddingIdx}) is {@code paddingIdx}; −1 for BERT's {@code 0..T−1}
 */
@Experimental(since = "1.4")
public record BertSpec(int vocabSize, int hiddenSize, int numLayers, int numHeads, int intermediateSize, int maxPositions,
                          int typeVocabSize, double layerNormEps, int paddingIdx) implements ArchitectureSpec {

    @Override
    public Task task() {
        return Task.SENTENCE_ENCODER;
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }
}
