package org.fmsmo.api.arch;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fmsmo.api.Experimental;

/**
 * A decoder-only causal LM of the Llama lineage and its relatives (Mistral, Qwen, Gemma, Phi-3,
 * Granite, Mixtral): token embedding, blocks of grouped-query attention with rotary positions and
 * a gated MLP or a mixture of experts, a final norm and the output head. What varies between them
 * is named here; the host builds and runs the rest.
 *
 * @param vocabSize         rows of the embedding and the head
 * @param hiddenSize        model width
 * @param numHeads          query heads
 * @param numKvHeads        key/value heads (dividing {@code numHeads})
 * @param headDim           width of one head (Qwen 3 and Gemma: not {@code hiddenSize / numHeads})
 * @param intermediateSize  width of the dense MLP
 * @param maxPositions      the longest sequence (rotary tables are built up to it)
 * @param norm              the norm every block, the q/k norms and the final norm use
 * @param normEps           its ε
 * @param layout            where the norms sit in a block
 * @param activation        of the MLP's gate
 * @param attention         what every layer's attention shares
 * @param layers            one entry per block, in order: its window, rotary parameters, and whether its MLP is the mixture
 * @param moe               the mixture of experts; null when no layer has one
 * @param scaling           Granite's multipliers and Gemma's scaled embeddings and soft caps
 * @param mlpBias           gate/up/down carry biases
 * @param fusedQkv          q, k and v are stored as one {@link Part#QKV} projection, rows in that order (Phi-3)
 * @param fusedGateUp       gate and up are stored as one {@link Part#GATE_UP} projection, gate rows first (Phi-3)
 * @param tieWordEmbeddings the head reuses the embedding when the checkpoint has no head of its own
 * @param positions         rotary (each layer's {@link Layer#rope()}) or a learned table ({@link Part#POSITION_EMBEDDING}; GPT-2)
 * @param gatedMlp          the MLP is {@code down(act(gate(x)) ⊙ up(x))}; false: {@code down(act(up(x)))} (GPT-2)
 * @param transposedWeights linear weights are stored {@code [in, out]} (GPT-2's {@code Conv1D}); they are read and
 *                          written back that way, and held {@code [out, in]} like every other linear
 * @param names             the checkpoint's names for each part
 * @param encoder           null for a causal decoder; for a bidirectional encoder (ModernBERT), what differs
 */
@Experimental(since = "1.4")
public record TransformerSpec(int vocabSize, int hiddenSize, int numHeads, int numKvHeads, int headDim, int intermediateSize,
                          int maxPositions, Norm norm, double normEps, Layout layout, Activation activation, Attention attention,
                          List<Layer> layers, Moe moe, Scaling scaling, boolean mlpBias, boolean fusedQkv, boolean fusedGateUp,
                          boolean tieWordEmbeddings, Positions positions, boolean gatedMlp, boolean transposedWeights,
                          Names names, Encoder encoder) implements ArchitectureSpec {

    public TransformerSpec {
        layers = List.copyOf(layers);
        Objects.requireNonNull(norm, "norm");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(activation, "activation");
        Objects.requireNonNull(attention, "attention");
        Objects.requireNonNull(scaling, "scaling");
        Objects.requireNonNull(names, "names");
        Objects.requireNonNull(positions, "positions");
        if (positions == Positions.ROTARY && layers.stream().anyMatch(l -> l.rope() == null)) {
            throw new IllegalArgumentException("rotary positions need every layer's rope parameters");
        }
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("a decoder needs at least one layer");
        }
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("numKvHeads (" + numKvHeads + ") must divide numHeads (" + numHeads + ")");
        }
        if (moe == null && layers.stream().anyMatch(Layer::sparse)) {
            throw new IllegalArgumentException("a layer uses the mixture of experts but no moe is given");
        }
    }

    @Override
    public Task task() {
        return encoder == null ? Task.CAUSAL_LM : Task.SENTENCE_ENCODER;
    }

    /**
     * A bidirectional encoder built from these blocks: every token sees every other (within its
     * layer's window, {@code |i − j| ≤ w}), padding is masked, and the output is the final norm's,
     * with no head.
     *
     * @param embeddingNorm  the embedding output is normed ({@link Part#EMBEDDING_NORM})
     * @param firstBlockNorm the first block has an input norm (ModernBERT's has none)
     */
    @Experimental(since = "1.4")
    public record Encoder(boolean embeddingNorm, boolean firstBlockNorm) {
    }

    public int numLayers() {
        return layers.size();
    }

    /** How positions enter. */
    @Experimental(since = "1.4")
    public enum Positions {
        /** Rotary embedding of q and k in every layer. */
        ROTARY,
        /** A learned table added to the token embedding (GPT-2). */
        LEARNED
    }

    /** The blocks' and the final norm. */
    @Experimental(since = "1.4")
    public enum Norm {
        /** {@code x · rsqrt(mean(x²) + ε) · w} (Llama). */
        RMS,
        /** {@code x · rsqrt(mean(x²) + ε) · (1 + w)}: the stored gain is an offset from one (Gemma). */
        RMS_UNIT_OFFSET,
        /** {@code (x − mean) / √(var + ε) · w + b}, with a bias beside each gain (GPT-2). */
        LAYER_NORM,
        /** {@code (x − mean) / √(var + ε) · w}, no bias (ModernBERT). */
        LAYER_NORM_NO_BIAS
    }

    /** Where a block's norms sit. */
    @Experimental(since = "1.4")
    public enum Layout {
        /** {@code h = x + attn(n₁(x)); y = h + mlp(n₂(h))} (Llama). */
        PRE_NORM,
        /** Gemma 2/3: each sub-layer's output is normed too, {@code h = x + n₂(attn(n₁(x))); y = h + n₄(mlp(n₃(h)))}. */
        SANDWICH
    }

    /** The MLP gate's activation. */
    @Experimental(since = "1.4")
    public enum Activation {
        /** {@code x · σ(x)} (SwiGLU). */
        SILU,
        /** The exact, erf-based GELU (HF's {@code gelu}; ModernBERT). */
        GELU,
        /** GELU with the tanh approximation (GeGLU; HF's {@code gelu_pytorch_tanh}). */
        GELU_TANH
    }

    /**
     * @param qkvBias    q/k/v projections carry biases
     * @param outputBias the o projection carries a bias
     * @param qkNorm     each head's q and k are normed before rotation ({@link Part#Q_NORM}, {@link Part#K_NORM}; Qwen 3, Gemma 3)
     * @param scale      multiplies {@code q·kᵀ} ({@code 1/√headDim} usually; Granite's {@code attention_multiplier})
     * @param softcap    scores become {@code c·tanh(s/c)} before the mask (Gemma 2); 0 for none
     */
    @Experimental(since = "1.4")
    public record Attention(boolean qkvBias, boolean outputBias, boolean qkNorm, double scale, double softcap) {
    }

    /**
     * @param slidingWindow a query at position i sees keys {@code i−w < j ≤ i} (decoders) or {@code |i−j| ≤ w}
     *                      (encoders); 0 for all of them
     * @param rope          this layer's rotary parameters; null with learned positions
     * @param sparse        the layer's MLP is the mixture of experts
     */
    @Experimental(since = "1.4")
    public record Layer(int slidingWindow, RopeParameters rope, boolean sparse) {
        public Layer {
            if (slidingWindow < 0) {
                throw new IllegalArgumentException("slidingWindow must be ≥ 0, found " + slidingWindow);
            }
        }
    }

    /**
     * A softmax router over experts, each a gated MLP. Every token is routed to its {@code topK}
     * most probable experts and their outputs are summed, weighted by those probabilities.
     *
     * @param numExperts       experts per layer
     * @param topK             experts per token
     * @param normalizeTopK    the chosen probabilities are rescaled to sum to one (Mixtral; Qwen's {@code norm_topk_prob})
     * @param intermediateSize width of one expert
     */
    @Experimental(since = "1.4")
    public record Moe(int numExperts, int topK, boolean normalizeTopK, int intermediateSize) {
        public Moe {
            if (topK < 1 || topK > numExperts) {
                throw new IllegalArgumentException("topK must be in 1.." + numExperts + ", found " + topK);
            }
        }
    }

    /**
     * @param embedding    multiplies the embedding output (Granite's {@code embedding_multiplier}; Gemma's √hidden)
     * @param residual     multiplies each sub-layer's output before it joins the residual (Granite)
     * @param logitsDivisor divides the logits (Granite's {@code logits_scaling})
     * @param finalSoftcap logits become {@code c·tanh(z/c)} (Gemma 2); 0 for none
     */
    @Experimental(since = "1.4")
    public record Scaling(double embedding, double residual, double logitsDivisor, double finalSoftcap) {
        /** No scaling. */
        public static final Scaling NONE = new Scaling(1, 1, 1, 0);
    }

    /** The parts of a decoder checkpoint, with the names Hugging Face's Llama gives them. */
    @Experimental(since = "1.4")
    public enum Part {
        /**
         * Hugging Face's {@code base_model_prefix}: a checkpoint saved with a task head puts it before the base
         * model's names, one saved as the bare model does not; the host reads both.
         */
        BASE_MODEL("model"),
        EMBEDDING("model.embed_tokens"), EMBEDDING_NORM("model.embed_norm"), POSITION_EMBEDDING("model.embed_positions"), LAYERS("model.layers"), FINAL_NORM("model.norm"), LM_HEAD("lm_head"),
        ATTENTION("self_attn"), Q("q_proj"), K("k_proj"), V("v_proj"), O("o_proj"), QKV("qkv_proj"), Q_NORM("q_norm"), K_NORM("k_norm"),
        MLP("mlp"), GATE("gate_proj"), UP("up_proj"), DOWN("down_proj"), GATE_UP("gate_up_proj"),
        INPUT_NORM("input_layernorm"), POST_ATTENTION_NORM("post_attention_layernorm"),
        PRE_FEEDFORWARD_NORM("pre_feedforward_layernorm"), POST_FEEDFORWARD_NORM("post_feedforward_layernorm"),
        /** The mixture's block, under a layer. */
        SPARSE_MLP("mlp"),
        /** The router under {@link #SPARSE_MLP}; a plain weight, kept in float. */
        ROUTER("gate"),
        /** The expert list under {@link #SPARSE_MLP}. */
        EXPERTS("experts"),
        EXPERT_GATE("gate_proj"), EXPERT_UP("up_proj"), EXPERT_DOWN("down_proj");

        private final String llamaName;

        Part(String llamaName) {
            this.llamaName = llamaName;
        }
    }

    /** A checkpoint's names for the {@link Part}s: Llama's, with some renamed. */
    @Experimental(since = "1.4")
    public record Names(Map<Part, String> renamed) {

        public Names {
            renamed = Map.copyOf(renamed);
        }

        /** Hugging Face Llama's names. */
        public static Names llama() {
            return new Names(Map.of());
        }

        /** These names, with {@code part} called {@code name}. */
        public Names with(Part part, String name) {
            Map<Part, String> m = new EnumMap<>(Part.class);
            m.putAll(renamed);
            m.put(part, Objects.requireNonNull(name, "name"));
            return new Names(m);
        }

        /** The checkpoint's name of {@code part} (a path segment, or a prefix for the top-level parts). */
        public String of(Part part) {
            return renamed.getOrDefault(part, part.llamaName);
        }
    }
}
