package org.fmsmo.core.arch;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Activation;
import org.fmsmo.api.arch.TransformerSpec.Attention;
import org.fmsmo.api.arch.TransformerSpec.Layer;
import org.fmsmo.api.arch.TransformerSpec.Layout;
import org.fmsmo.api.arch.TransformerSpec.Moe;
import org.fmsmo.api.arch.TransformerSpec.Names;
import org.fmsmo.api.arch.TransformerSpec.Norm;
import org.fmsmo.api.arch.TransformerSpec.Scaling;
import org.fmsmo.api.arch.ModelConfig;
import org.fmsmo.api.arch.RopeParameters;

/**
 * The keys every Llama-lineage config shares, read once: the built-in decoders start from
 * {@link #read} and change what their family changes.
 */
final class TransformerConfigs {

    /**
     * More blocks than any published model has (Llama 3.1 405B: 126): a structure is built per
     * block before any weight is read, so a damaged count must be refused, not allocated
     * (fuzzing found a config.json asking for 133 million).
     */
    static final int MAX_LAYERS = 1024;
    /** Wider heads than any published model's; the rotary tables are built from it. */
    static final int MAX_HEAD_DIM = 1024;

    /** {@code num_hidden_layers}, checked against {@link #MAX_LAYERS}. */
    static int layers(ModelConfig c) {
        int n = c.positive("num_hidden_layers");
        if (n > MAX_LAYERS) {
            throw c.invalid("num_hidden_layers", "must be at most " + MAX_LAYERS + " (more blocks than any published model), found " + n);
        }
        return n;
    }

    static final String FULL = "full_attention";
    static final String SLIDING = "sliding_attention";

    private TransformerConfigs() {
    }

    /** A Llama-shaped description of {@code c} (SwiGLU unless {@code hidden_act} says otherwise), every layer full attention. */
    static Builder read(ModelConfig c) {
        Builder b = new Builder();
        b.vocab = c.positive("vocab_size");
        b.hidden = c.positive("hidden_size");
        b.heads = c.positive("num_attention_heads");
        b.kvHeads = c.positive("num_key_value_heads", b.heads);
        if (b.heads % b.kvHeads != 0) {
            throw c.invalid("num_key_value_heads", "(" + b.kvHeads + ") must divide num_attention_heads (" + b.heads + ")");
        }
        b.headDim = c.positive("head_dim", b.hidden / b.heads);
        if (b.headDim > MAX_HEAD_DIM) {
            throw c.invalid("head_dim", "must be at most " + MAX_HEAD_DIM + " (published models use 64 to 256), found " + b.headDim);
        }
        if (b.headDim % 2 != 0) {
            throw c.invalid("head_dim", "must be even for rotary embeddings, found " + b.headDim);
        }
        b.intermediate = c.positive("intermediate_size");
        b.maxPositions = c.positive("max_position_embeddings", 2048);
        b.numLayers = layers(c);
        b.eps = c.numberBetween("rms_norm_eps", 1e-6, 0, 1);
        b.tie = c.bool("tie_word_embeddings", false);
        b.scale = 1.0 / Math.sqrt(b.headDim);
        b.config = c;
        b.activation = activation(c, "hidden_act", "silu");
        return b;
    }

    /** {@code hidden_act} (or {@code hidden_activation}), which must be one of {@code allowed}. */
    static Activation activation(ModelConfig c, String key, String fallback) {
        String act = c.string(key, fallback);
        return switch (act) {
            case "silu", "swish" -> Activation.SILU;
            case "gelu_pytorch_tanh", "gelu_new" -> Activation.GELU_TANH;
            case "gelu" -> Activation.GELU;
            default -> throw c.unsupported(key, "'" + act + "' is not supported for " + c.modelType()
                    + "; supported: silu, gelu_pytorch_tanh, gelu_new, gelu");
        };
    }

    /**
     * The layer types: {@code layer_types} when the config lists them (transformers 5 writes it),
     * else {@code sliding} decides per layer.
     */
    static List<String> layerTypes(ModelConfig c, int numLayers, IntPredicate sliding) {
        List<String> types = c.strings("layer_types");
        if (!types.isEmpty()) {
            if (types.size() != numLayers) {
                throw c.invalid("layer_types", "must list " + numLayers + " layers (num_hidden_layers), found " + types.size());
            }
            for (String t : types) {
                if (!t.equals(FULL) && !t.equals(SLIDING)) {
                    throw c.unsupported("layer_types", "'" + t + "' is not supported; supported: " + FULL + ", " + SLIDING);
                }
            }
            return types;
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < numLayers; i++) {
            out.add(sliding.test(i) ? SLIDING : FULL);
        }
        return out;
    }

    /** What a built-in decoder fills in; {@link #build} makes the spec. */
    static final class Builder {
        ModelConfig config;
        int vocab;
        int hidden;
        int heads;
        int kvHeads;
        int headDim;
        int intermediate;
        int maxPositions;
        int numLayers;
        double eps;
        boolean tie;
        double scale;
        Norm norm = Norm.RMS;
        Layout layout = Layout.PRE_NORM;
        Activation activation = Activation.SILU;
        boolean qkvBias;
        boolean outputBias;
        boolean qkNorm;
        double softcap;
        boolean mlpBias;
        boolean fusedQkv;
        boolean fusedGateUp;
        TransformerSpec.Positions positions = TransformerSpec.Positions.ROTARY;
        boolean gatedMlp = true;
        boolean transposedWeights;
        TransformerSpec.Encoder encoder;
        Scaling scaling = Scaling.NONE;
        Names names = Names.llama();
        Moe moe;
        /** Per layer: full or sliding; all full unless set. */
        List<String> layerTypes;
        int slidingWindow;
        IntPredicate sparse = i -> false;
        double fallbackTheta = 10000.0;
        /** A layer type's rotary parameters; the config's own unless a family reads its older keys. */
        java.util.function.Function<String, RopeParameters> rope = type -> config.rope(type, fallbackTheta);

        TransformerSpec build() {
            List<Layer> layers = new ArrayList<>();
            for (int i = 0; i < numLayers; i++) {
                String type = layerTypes == null ? FULL : layerTypes.get(i);
                boolean sliding = type.equals(SLIDING);
                if (sliding && slidingWindow <= 0) {
                    throw config.invalid("sliding_window", "must be a positive number of tokens for the sliding layers of layer_types");
                }
                layers.add(new Layer(sliding ? slidingWindow : 0, positions == TransformerSpec.Positions.ROTARY ? rope.apply(type) : null,
                        sparse.test(i)));
            }
            return new TransformerSpec(vocab, hidden, heads, kvHeads, headDim, intermediate, maxPositions, norm, eps, layout, activation,
                    new Attention(qkvBias, outputBias, qkNorm, scale, softcap), layers, moe, scaling, mlpBias, fusedQkv, fusedGateUp,
                    tie, positions, gatedMlp, transposedWeights, names, encoder);
        }
    }
}
