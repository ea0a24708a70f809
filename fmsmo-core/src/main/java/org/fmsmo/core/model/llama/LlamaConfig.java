package org.fmsmo.core.model.llama;

import com.fasterxml.jackson.databind.JsonNode;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.nn.RotaryEmbedding;

/**
 * The {@code config.json} of a Llama-family decoder ({@code llama}, {@code mistral}, {@code qwen2}).
 *
 * @param attentionBias q/k/v (and, for Llama's {@code attention_bias}, o) projections carry biases
 * @param outputBias    the o projection carries a bias too (Llama's {@code attention_bias}; not Qwen2)
 */
public record LlamaConfig(String modelType, int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
                          int numKvHeads, int headDim, int maxPositions, double rmsNormEps, double ropeTheta,
                          float[] inverseFrequencies, boolean tieWordEmbeddings,
                          boolean attentionBias, boolean outputBias, boolean mlpBias) {

    /** Reads and checks the keys HF's Llama, Mistral and Qwen2 configs use. */
    public static LlamaConfig from(HfConfig c) {
        String type = c.modelType();
        int hidden = c.positive("hidden_size");
        int heads = c.positive("num_attention_heads");
        int kvHeads = c.positive("num_key_value_heads", heads);
        if (heads % kvHeads != 0) {
            throw c.invalid("num_key_value_heads", "(" + kvHeads + ") must divide num_attention_heads (" + heads + ")");
        }
        int headDim = c.has("head_dim") ? c.positive("head_dim") : hidden / heads;
        if (headDim % 2 != 0) {
            throw c.invalid("head_dim", "must be even for rotary embeddings, found " + headDim);
        }
        String act = c.string("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw c.invalid("hidden_act", "must be 'silu' for " + type + ", found '" + act + "'");
        }
        double theta = c.numberBetween("rope_theta", 10000.0, 1, Double.POSITIVE_INFINITY);
        float[] invFreq = RotaryEmbedding.defaultInverseFrequencies(headDim, theta);
        RopeScaling.apply(c, invFreq);
        int maxPositions = c.positive("max_position_embeddings", 2048);
        if (c.has("sliding_window") && c.positive("sliding_window") < maxPositions) {
            throw c.invalid("sliding_window", "sliding-window attention is not supported yet; expected null or at least max_position_embeddings ("
                    + maxPositions + ")");
        }
        boolean qwen = type.equals("qwen2");
        boolean attnBias = qwen || c.bool("attention_bias", false);
        return new LlamaConfig(type, c.positive("vocab_size"), hidden, c.positive("intermediate_size"),
                c.positive("num_hidden_layers"), heads, kvHeads, headDim, maxPositions,
                c.numberBetween("rms_norm_eps", 1e-6, 0, 1), theta, invFreq, c.bool("tie_word_embeddings", false),
                attnBias, attnBias && !qwen, c.bool("mlp_bias", false));
    }

    /** HF's {@code rope_scaling} variants that change the frequencies, applied in place. */
    static final class RopeScaling {
        private RopeScaling() {
        }

        static void apply(HfConfig c, float[] invFreq) {
            JsonNode s = c.object("rope_scaling");
            if (s == null) {
                return;
            }
            String type = s.path("rope_type").asText(s.path("type").asText("default"));
            switch (type) {
                case "default" -> {
                    // HF's frequencies as computed
                }
                case "linear" -> {
                    double factor = positive(c, s, "factor", 1.0);
                    for (int i = 0; i < invFreq.length; i++) {
                        invFreq[i] = (float) (invFreq[i] / factor);
                    }
                }
                case "llama3" -> {
                    // Llama 3.1: long wavelengths slowed by `factor`, short ones kept, a smooth ramp between.
                    double factor = positive(c, s, "factor", Double.NaN);
                    double low = positive(c, s, "low_freq_factor", 1.0);
                    double high = positive(c, s, "high_freq_factor", 4.0);
                    double original = positive(c, s, "original_max_position_embeddings", 8192);
                    if (!(high > low)) {
                        throw c.invalid("rope_scaling", "high_freq_factor (" + high + ") must exceed low_freq_factor (" + low + ")");
                    }
                    double lowWavelen = original / low;
                    double highWavelen = original / high;
                    for (int i = 0; i < invFreq.length; i++) {
                        double wavelen = 2 * Math.PI / invFreq[i];
                        if (wavelen > lowWavelen) {
                            invFreq[i] = (float) (invFreq[i] / factor);
                        } else if (wavelen >= highWavelen) {
                            double smooth = (original / wavelen - low) / (high - low);
                            invFreq[i] = (float) ((1 - smooth) * invFreq[i] / factor + smooth * invFreq[i]);
                        }
                    }
                }
                default -> throw c.invalid("rope_scaling", "type '" + type + "' is not supported; supported: default, linear, llama3");
            }
        }

        /** {@code rope_scaling.key}, a finite positive number ({@code fallback} when absent; NaN: required). */
        private static double positive(HfConfig c, JsonNode s, String key, double fallback) {
            JsonNode n = s.get(key);
            double v = n == null || n.isNull() ? fallback : n.isNumber() ? n.doubleValue() : Double.NaN;
            if (!(v > 0 && v < Double.POSITIVE_INFINITY)) {
                throw c.invalid("rope_scaling", key + " must be a positive number, found " + (n == null ? "nothing" : n));
            }
            return v;
        }
    }
}
