package org.fmsmo.core.arch;

import java.util.Set;
import org.fmsmo.api.arch.ArchitectureSpec;
import org.fmsmo.api.arch.EncoderSpec;
import org.fmsmo.api.arch.ModelArchitectureProvider;
import org.fmsmo.api.arch.ModelConfig;

/** The built-in BERT-style encoders. */
public final class Encoders {

    private Encoders() {
    }

    /** The keys BERT and RoBERTa share. */
    private static EncoderSpec read(ModelConfig c, int paddingIdx) {
        int hidden = c.positive("hidden_size");
        int heads = c.positive("num_attention_heads");
        if (hidden % heads != 0) {
            throw c.invalid("num_attention_heads", "(" + heads + ") must divide hidden_size (" + hidden + ")");
        }
        String act = c.string("hidden_act", "gelu");
        if (!act.equals("gelu")) {
            throw c.unsupported("hidden_act", "must be 'gelu' (the exact, erf-based GELU), found '" + act + "'");
        }
        String positions = c.string("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw c.unsupported("position_embedding_type", "must be 'absolute', found '" + positions + "'");
        }
        return new EncoderSpec(c.positive("vocab_size"), hidden, c.positive("num_hidden_layers"), heads,
                c.positive("intermediate_size"), c.positive("max_position_embeddings", 512), c.positive("type_vocab_size", 2),
                c.numberBetween("layer_norm_eps", 1e-12, 0, 1), paddingIdx);
    }

    public static final class Bert implements ModelArchitectureProvider {
        @Override
        public String name() {
            return "bert";
        }

        @Override
        public String description() {
            return "BERT encoders (sentence embeddings)";
        }

        @Override
        public Set<String> modelTypes() {
            return Set.of("bert");
        }

        @Override
        public ArchitectureSpec describe(ModelConfig c) {
            return read(c, -1);
        }
    }

    /** BERT with positions counted from {@code pad_token_id + 1}, and one token type. */
    public static final class Roberta implements ModelArchitectureProvider {
        @Override
        public String name() {
            return "roberta";
        }

        @Override
        public String description() {
            return "RoBERTa and XLM-RoBERTa encoders (positions offset by the padding index)";
        }

        @Override
        public Set<String> modelTypes() {
            return Set.of("roberta", "xlm-roberta");
        }

        @Override
        public ArchitectureSpec describe(ModelConfig c) {
            int pad = c.integer("pad_token_id", 1);
            if (pad < 0) {
                throw c.invalid("pad_token_id", "must be a token id (≥ 0), found " + pad);
            }
            EncoderSpec s = read(c, pad);
            if (s.maxPositions() <= pad + 1) {
                throw c.invalid("max_position_embeddings", "(" + s.maxPositions() + ") must exceed pad_token_id + 1 (" + (pad + 1) + ")");
            }
            return s;
        }
    }
}
