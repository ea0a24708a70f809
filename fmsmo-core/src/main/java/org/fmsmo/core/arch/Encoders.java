package org.fmsmo.core.arch;

import java.util.Set;
import org.fmsmo.api.arch.ArchitectureSpec;
import org.fmsmo.api.arch.BertSpec;
import org.fmsmo.api.arch.ModelArchitectureProvider;
import org.fmsmo.api.arch.ModelConfig;
import org.fmsmo.api.arch.RopeParameters;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;

/** The built-in BERT-style encoders. */
public final class Encoders {

    private Encoders() {
    }

    /** The keys BERT and RoBERTa share. */
    private static BertSpec read(ModelConfig c, int paddingIdx) {
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
        return new BertSpec(c.positive("vocab_size"), hidden, TransformerConfigs.layers(c), heads,
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
            BertSpec s = read(c, pad);
            if (s.maxPositions() <= pad + 1) {
                throw c.invalid("max_position_embeddings", "(" + s.maxPositions() + ") must exceed pad_token_id + 1 (" + (pad + 1) + ")");
            }
            return s;
        }
    }

    /**
     * ModernBERT: a pre-norm encoder of the same blocks as the decoders — rotary positions with a
     * base per layer type, a fused {@code Wqkv}, a GeGLU {@code Wi}/{@code Wo}, LayerNorms without
     * biases, every {@code global_attn_every_n_layers}-th layer global and the others attending
     * within {@code local_attention / 2} tokens either side.
     */
    public static final class ModernBert implements ModelArchitectureProvider {
        @Override
        public String name() {
            return "modernbert";
        }

        @Override
        public String description() {
            return "ModernBERT encoders (rotary, GeGLU, local/global attention)";
        }

        @Override
        public Set<String> modelTypes() {
            return Set.of("modernbert");
        }

        @Override
        public ArchitectureSpec describe(ModelConfig c) {
            TransformerConfigs.Builder b = new TransformerConfigs.Builder();
            b.config = c;
            b.vocab = c.positive("vocab_size");
            b.hidden = c.positive("hidden_size");
            b.heads = c.positive("num_attention_heads");
            if (b.hidden % b.heads != 0 || (b.hidden / b.heads) % 2 != 0) {
                throw c.invalid("num_attention_heads", "(" + b.heads + ") must split hidden_size (" + b.hidden + ") into heads of even width");
            }
            b.kvHeads = b.heads;
            b.headDim = b.hidden / b.heads;
            if (b.headDim > TransformerConfigs.MAX_HEAD_DIM) {
                throw c.invalid("num_attention_heads", "must split hidden_size (" + b.hidden + ") into heads of at most "
                        + TransformerConfigs.MAX_HEAD_DIM + " (published models use 64 to 256), found " + b.headDim);
            }
            b.intermediate = c.positive("intermediate_size");
            b.maxPositions = c.positive("max_position_embeddings", 8192);
            b.numLayers = TransformerConfigs.layers(c);
            b.eps = c.numberBetween("norm_eps", 1e-5, 0, 1);
            b.scale = 1.0 / Math.sqrt(b.headDim);
            b.norm = c.bool("norm_bias", false) ? TransformerSpec.Norm.LAYER_NORM : TransformerSpec.Norm.LAYER_NORM_NO_BIAS;
            b.activation = TransformerConfigs.activation(c, "hidden_activation", "gelu");
            b.qkvBias = b.outputBias = c.bool("attention_bias", false);
            b.mlpBias = c.bool("mlp_bias", false);
            b.fusedQkv = true;
            b.fusedGateUp = true;
            b.encoder = new TransformerSpec.Encoder(true, false);
            int every = c.positive("global_attn_every_n_layers", 3);
            b.layerTypes = TransformerConfigs.layerTypes(c, b.numLayers, i -> i % every != 0);
            b.slidingWindow = c.positive("local_attention", 128) / 2;
            if (b.slidingWindow < 1) {
                throw c.invalid("local_attention", "must be at least 2 tokens");
            }
            if (!c.has("rope_parameters")) {
                // transformers 4: global_rope_theta and local_rope_theta
                double global = c.numberBetween("global_rope_theta", 160_000.0, 0, Double.POSITIVE_INFINITY);
                double local = c.numberBetween("local_rope_theta", 10_000.0, 0, Double.POSITIVE_INFINITY);
                b.rope = type -> new RopeParameters("default", type.equals(TransformerConfigs.SLIDING) ? local : global, 1.0, java.util.Map.of());
            }
            b.names = TransformerSpec.Names.llama().with(Part.EMBEDDING, "embeddings.tok_embeddings").with(Part.EMBEDDING_NORM, "embeddings.norm")
                    .with(Part.LAYERS, "layers").with(Part.FINAL_NORM, "final_norm").with(Part.ATTENTION, "attn").with(Part.QKV, "Wqkv")
                    .with(Part.O, "Wo").with(Part.MLP, "mlp").with(Part.GATE_UP, "Wi").with(Part.DOWN, "Wo")
                    .with(Part.INPUT_NORM, "attn_norm").with(Part.POST_ATTENTION_NORM, "mlp_norm");
            return b.build();
        }
    }
}
