package org.fmsmo.core.arch;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.fmsmo.api.arch.ArchitectureSpec;
import org.fmsmo.api.arch.TransformerSpec.Layout;
import org.fmsmo.api.arch.TransformerSpec.Moe;
import org.fmsmo.api.arch.TransformerSpec.Norm;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.api.arch.TransformerSpec.Scaling;
import org.fmsmo.api.arch.ModelArchitectureProvider;
import org.fmsmo.api.arch.ModelConfig;
import org.fmsmo.api.arch.RopeParameters;

/**
 * The built-in decoders, each what its Hugging Face {@code configuration_*.py} and
 * {@code modeling_*.py} say differs from Llama. Defaults are transformers' for keys a config
 * may leave out.
 */
public final class Decoders {

    private Decoders() {
    }

    /** A decoder provider: a name, its model types, and its reading of a config. */
    private abstract static class Decoder implements ModelArchitectureProvider {
        private final String name;
        private final Set<String> types;
        private final String description;

        Decoder(String name, String description, String... types) {
            this.name = name;
            this.description = description;
            this.types = Set.of(types);
        }

        @Override
        public final String name() {
            return name;
        }

        @Override
        public final String description() {
            return description;
        }

        @Override
        public final Set<String> modelTypes() {
            return types;
        }

        @Override
        public final ArchitectureSpec describe(ModelConfig c) {
            TransformerConfigs.Builder b = TransformerConfigs.read(c);
            adapt(c, b);
            return b.build();
        }

        /** What this family changes from Llama's reading. */
        abstract void adapt(ModelConfig c, TransformerConfigs.Builder b);
    }

    /** Every layer slides when {@code sliding_window} is set (Mistral, Mixtral, Phi-3), unless {@code layer_types} says otherwise. */
    private static void windowOnEveryLayer(ModelConfig c, TransformerConfigs.Builder b) {
        b.slidingWindow = c.has("sliding_window") ? c.positive("sliding_window") : 0;
        boolean sliding = b.slidingWindow > 0;
        b.layerTypes = TransformerConfigs.layerTypes(c, b.numLayers, i -> sliding);
    }

    /** Qwen's {@code use_sliding_window}: layers from {@code max_window_layers} on slide. */
    private static void qwenWindows(ModelConfig c, TransformerConfigs.Builder b) {
        boolean use = c.bool("use_sliding_window", false);
        b.slidingWindow = use && c.has("sliding_window") ? c.positive("sliding_window") : 0;
        int from = c.positive("max_window_layers", b.numLayers);
        b.layerTypes = TransformerConfigs.layerTypes(c, b.numLayers, i -> use && i >= from);
    }

    public static final class Llama extends Decoder {
        public Llama() {
            super("llama", "Llama 2/3 (rope scaling: linear, llama3)", "llama");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            b.qkvBias = b.outputBias = c.bool("attention_bias", false);
            b.mlpBias = c.bool("mlp_bias", false);
        }
    }

    public static final class Mistral extends Decoder {
        public Mistral() {
            super("mistral", "Mistral (sliding-window attention)", "mistral");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            windowOnEveryLayer(c, b);
        }
    }

    public static final class Qwen2 extends Decoder {
        public Qwen2() {
            super("qwen2", "Qwen 2 / 2.5 (q/k/v biases)", "qwen2");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            b.qkvBias = true;
            qwenWindows(c, b);
        }
    }

    public static final class Qwen3 extends Decoder {
        public Qwen3() {
            super("qwen3", "Qwen 3 (per-head q/k RMSNorm)", "qwen3");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            b.qkvBias = b.outputBias = c.bool("attention_bias", false);
            b.qkNorm = true;
            qwenWindows(c, b);
        }
    }

    public static final class Granite extends Decoder {
        public Granite() {
            super("granite", "IBM Granite 3 (embedding, residual, attention and logits multipliers)", "granite");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            b.qkvBias = b.outputBias = c.bool("attention_bias", false);
            b.mlpBias = c.bool("mlp_bias", false);
            b.scale = c.numberBetween("attention_multiplier", 1.0, 0, Double.POSITIVE_INFINITY);
            b.scaling = new Scaling(c.numberBetween("embedding_multiplier", 1.0, 0, Double.POSITIVE_INFINITY),
                    c.numberBetween("residual_multiplier", 1.0, 0, Double.POSITIVE_INFINITY),
                    c.numberBetween("logits_scaling", 1.0, 0, Double.POSITIVE_INFINITY), 0);
        }
    }

    public static final class Phi3 extends Decoder {
        public Phi3() {
            super("phi3", "Phi-3 (fused qkv and gate_up projections, partial rotary)", "phi3");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            b.fusedQkv = true;
            b.fusedGateUp = true;
            windowOnEveryLayer(c, b);
        }
    }

    /** Gemma 2 and 3 share the unit-offset norms, the sandwich, GeGLU and the √hidden-scaled embedding. */
    private static void gemma(ModelConfig c, TransformerConfigs.Builder b, int pattern, double attnSoftcap, double finalSoftcap) {
        b.norm = Norm.RMS_UNIT_OFFSET;
        b.layout = Layout.SANDWICH;
        b.activation = TransformerConfigs.activation(c, c.has("hidden_activation") ? "hidden_activation" : "hidden_act", "gelu_pytorch_tanh");
        b.qkvBias = b.outputBias = c.bool("attention_bias", false);
        b.tie = c.bool("tie_word_embeddings", true);
        b.scale = 1.0 / Math.sqrt(c.numberBetween("query_pre_attn_scalar", 256, 0, Double.POSITIVE_INFINITY));
        b.softcap = attnSoftcap;
        b.scaling = new Scaling(Math.sqrt(b.hidden), 1, 1, finalSoftcap);
        b.slidingWindow = c.positive("sliding_window", 4096);
        b.layerTypes = TransformerConfigs.layerTypes(c, b.numLayers, i -> (i + 1) % pattern != 0);
    }

    /** A soft cap that a config may set to null (none) or leave out (transformers' default, {@code fallback}). */
    private static double softcap(ModelConfig c, String key, double fallback) {
        return c.present(key) ? (c.has(key) ? c.numberBetween(key, 0, 0, Double.POSITIVE_INFINITY) : 0) : fallback;
    }

    public static final class Gemma2 extends Decoder {
        public Gemma2() {
            super("gemma2", "Gemma 2 (soft-capped attention and logits, alternating local/global layers)", "gemma2");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            gemma(c, b, 2, softcap(c, "attn_logit_softcapping", 50.0), softcap(c, "final_logit_softcapping", 30.0));
        }
    }

    public static final class Gemma3 extends Decoder {
        public Gemma3() {
            super("gemma3", "Gemma 3 text (q/k norms, local layers with their own rotary base)", "gemma3_text");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            gemma(c, b, c.positive("sliding_window_pattern", 6), softcap(c, "attn_logit_softcapping", 0),
                    softcap(c, "final_logit_softcapping", 0));
            b.qkNorm = true;
            b.fallbackTheta = 1_000_000.0;
            if (!c.has("rope_parameters")) {
                // transformers 4: local layers turn at rope_local_base_freq, unscaled; rope_scaling is the global layers'.
                double local = c.numberBetween("rope_local_base_freq", 10000.0, 0, Double.POSITIVE_INFINITY);
                b.rope = type -> type.equals(TransformerConfigs.SLIDING) ? new RopeParameters("default", local, 1.0, Map.of())
                        : c.rope(type, 1_000_000.0);
            }
        }
    }

    /** A mixture whose {@code num_experts_per_tok} must not exceed its expert count. */
    private static Moe moe(ModelConfig c, String expertsKey, int experts, int topK, boolean normalize, int width) {
        int n = c.positive(expertsKey, experts);
        int k = c.positive("num_experts_per_tok", topK);
        if (k > n) {
            throw c.invalid("num_experts_per_tok", "(" + k + ") must not exceed " + expertsKey + " (" + n + ")");
        }
        return new Moe(n, k, normalize, width);
    }

    public static final class Mixtral extends Decoder {
        public Mixtral() {
            super("mixtral", "Mixtral (sparse mixture of experts)", "mixtral");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            windowOnEveryLayer(c, b);
            b.moe = moe(c, "num_local_experts", 8, 2, true, b.intermediate);
            b.sparse = i -> true;
            b.names = b.names.with(Part.SPARSE_MLP, "block_sparse_moe").with(Part.EXPERT_GATE, "w1").with(Part.EXPERT_UP, "w3")
                    .with(Part.EXPERT_DOWN, "w2");
        }
    }

    public static final class Qwen3Moe extends Decoder {
        public Qwen3Moe() {
            super("qwen3_moe", "Qwen 3 MoE (q/k norms, sparse mixture of experts)", "qwen3_moe");
        }

        @Override
        void adapt(ModelConfig c, TransformerConfigs.Builder b) {
            b.qkvBias = b.outputBias = c.bool("attention_bias", false);
            b.qkNorm = true;
            qwenWindows(c, b);
            String expertsKey = c.has("num_experts") ? "num_experts" : "num_local_experts";
            b.moe = moe(c, expertsKey, 128, 8, c.bool("norm_topk_prob", false), c.positive("moe_intermediate_size"));
            int step = c.positive("decoder_sparse_step", 1);
            List<Integer> dense = c.integers("mlp_only_layers");
            b.sparse = i -> !dense.contains(i) && (i + 1) % step == 0;
        }
    }

    /**
     * GPT-2: learned positions, LayerNorm with biases, a fused {@code c_attn}, a plain GELU MLP,
     * every linear a {@code Conv1D} stored {@code [in, out]}, the head tied to {@code wte}. Its
     * config keeps GPT-2's own key names ({@code n_embd}, {@code n_layer} …). Names are those
     * of {@code GPT2LMHeadModel} ({@code transformer.h.0.attn.c_attn}).
     */
    public static final class Gpt2 implements ModelArchitectureProvider {
        @Override
        public String name() {
            return "gpt2";
        }

        @Override
        public String description() {
            return "GPT-2 (learned positions, Conv1D weights, LayerNorm)";
        }

        @Override
        public Set<String> modelTypes() {
            return Set.of("gpt2");
        }

        @Override
        public ArchitectureSpec describe(ModelConfig c) {
            TransformerConfigs.Builder b = new TransformerConfigs.Builder();
            b.config = c;
            b.vocab = c.positive("vocab_size");
            b.hidden = c.positive("n_embd");
            b.heads = c.positive("n_head");
            if (b.hidden % b.heads != 0) {
                throw c.invalid("n_head", "(" + b.heads + ") must divide n_embd (" + b.hidden + ")");
            }
            b.kvHeads = b.heads;
            b.headDim = b.hidden / b.heads;
            b.intermediate = c.positive("n_inner", 4 * b.hidden);
            b.maxPositions = c.positive("n_positions", 1024);
            b.numLayers = c.positive("n_layer");
            b.eps = c.numberBetween("layer_norm_epsilon", 1e-5, 0, 1);
            b.tie = c.bool("tie_word_embeddings", true);
            b.scale = c.bool("scale_attn_weights", true) ? 1.0 / Math.sqrt(b.headDim) : 1.0;
            if (c.bool("scale_attn_by_inverse_layer_idx", false)) {
                throw c.unsupported("scale_attn_by_inverse_layer_idx", "is not supported (true scales each layer's scores by 1/(layer + 1))");
            }
            b.norm = Norm.LAYER_NORM;
            b.activation = TransformerConfigs.activation(c, "activation_function", "gelu_new");
            b.qkvBias = b.outputBias = b.mlpBias = true;
            b.fusedQkv = true;
            b.gatedMlp = false;
            b.transposedWeights = true;
            b.positions = org.fmsmo.api.arch.TransformerSpec.Positions.LEARNED;
            b.names = org.fmsmo.api.arch.TransformerSpec.Names.llama().with(Part.BASE_MODEL, "transformer").with(Part.EMBEDDING, "transformer.wte")
                    .with(Part.POSITION_EMBEDDING, "transformer.wpe").with(Part.LAYERS, "transformer.h").with(Part.FINAL_NORM, "transformer.ln_f")
                    .with(Part.ATTENTION, "attn").with(Part.QKV, "c_attn").with(Part.O, "c_proj").with(Part.UP, "c_fc").with(Part.DOWN, "c_proj")
                    .with(Part.INPUT_NORM, "ln_1").with(Part.POST_ATTENTION_NORM, "ln_2");
            return b.build();
        }
    }
}
