package org.fmsmo.core.synthetic;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * The {@code config.json} shapes of a published Llama-family model: what a synthetic checkpoint
 * copies so that benchmarks and memory tests see the real model's tensor sizes.
 *
 * @param name          the preset's name ({@code llama-3-8b})
 * @param modelType     HF {@code model_type}
 * @param architecture  HF {@code architectures[0]}
 * @param qkvBias       q/k/v projections carry biases (Qwen2)
 * @param ropeScaling   HF {@code rope_scaling}, null for none
 */
public record ModelShape(String name, String modelType, String architecture, int vocab, int hidden, int intermediate, int layers,
                         int heads, int kvHeads, boolean tiedEmbeddings, boolean qkvBias, double ropeTheta, int maxPositions,
                         double rmsNormEps, Map<String, Object> ropeScaling) {

    /** The presets, by name; the numbers are those of each model's published {@code config.json}. */
    public static final Map<String, ModelShape> PRESETS;

    static {
        Map<String, ModelShape> p = new TreeMap<>();
        p.put("llama-3-8b", new ModelShape("llama-3-8b", "llama", "LlamaForCausalLM", 128256, 4096, 14336, 32, 32, 8, false, false,
                500000.0, 8192, 1e-5, null));
        p.put("llama-3.2-1b", new ModelShape("llama-3.2-1b", "llama", "LlamaForCausalLM", 128256, 2048, 8192, 16, 32, 8, true, false,
                500000.0, 131072, 1e-5, Map.of("rope_type", "llama3", "factor", 32.0, "low_freq_factor", 1.0, "high_freq_factor", 4.0,
                        "original_max_position_embeddings", 8192)));
        p.put("qwen2.5-7b", new ModelShape("qwen2.5-7b", "qwen2", "Qwen2ForCausalLM", 152064, 3584, 18944, 28, 28, 4, false, true,
                1000000.0, 131072, 1e-6, null));
        // TinyLlama-1.1B: the 1.1B model the first wave's load benchmark used (bench --load-synthetic).
        p.put("tinyllama-1.1b", new ModelShape("tinyllama-1.1b", "llama", "LlamaForCausalLM", 32000, 2048, 5632, 22, 32, 4, false, false,
                10000.0, 2048, 1e-5, null));
        // Mistral-7B-v0.3: no sliding window, so its forward pass is Llama's.
        p.put("mistral-7b", new ModelShape("mistral-7b", "mistral", "MistralForCausalLM", 32768, 4096, 14336, 32, 32, 8, false, false,
                1000000.0, 32768, 1e-5, null));
        PRESETS = java.util.Collections.unmodifiableMap(p);
    }

    /**
     * A preset by name.
     *
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} listing the presets
     */
    public static ModelShape preset(String name) {
        ModelShape s = PRESETS.get(name);
        if (s == null) {
            throw new FmsmoException(ErrorCode.UNKNOWN_NAME, "no model shape '" + name + "'; known: " + String.join(", ", PRESETS.keySet()));
        }
        return s;
    }

    /** The same shapes with {@code n} decoder layers. */
    public ModelShape withLayers(int n) {
        if (n < 1) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--layers " + n + ": expected at least 1");
        }
        return new ModelShape(name, modelType, architecture, vocab, hidden, intermediate, n, heads, kvHeads, tiedEmbeddings, qkvBias,
                ropeTheta, maxPositions, rmsNormEps, ropeScaling);
    }

    /** Key/value projection width: {@code head_dim · num_key_value_heads}. */
    public int kvWidth() {
        return hidden / heads * kvHeads;
    }

    /** Parameters, tied embeddings counted once. */
    public long parameters() {
        long kv = kvWidth();
        long perLayer = 2L * hidden * hidden + 2L * hidden * kv + 3L * hidden * intermediate + 2L * hidden + (qkvBias ? hidden + 2 * kv : 0);
        return (tiedEmbeddings ? 1 : 2) * (long) vocab * hidden + layers * perLayer + hidden;
    }

    /** The {@code config.json} a Hugging Face checkpoint of these shapes carries. */
    public ObjectNode config() {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add(architecture);
        c.put("model_type", modelType).put("vocab_size", vocab).put("hidden_size", hidden).put("intermediate_size", intermediate)
                .put("num_hidden_layers", layers).put("num_attention_heads", heads).put("num_key_value_heads", kvHeads)
                .put("head_dim", hidden / heads).put("hidden_act", "silu").put("max_position_embeddings", maxPositions)
                .put("rms_norm_eps", rmsNormEps).put("rope_theta", ropeTheta).put("tie_word_embeddings", tiedEmbeddings)
                .put("torch_dtype", "bfloat16").put("bos_token_id", 1).put("eos_token_id", 2);
        if (modelType.equals("mistral")) {
            c.putNull("sliding_window");
        }
        if (ropeScaling != null) {
            c.set("rope_scaling", new ObjectMapper().valueToTree(ropeScaling));
        }
        c.put("fmsmo_synthetic", name); // says plainly that these weights are not the real model's
        return c;
    }

    /** Stored tensor names of one decoder layer, in HF order, with their shapes. */
    List<Map.Entry<String, long[]>> layerTensors(int i) {
        String p = "model.layers." + i + ".";
        long kv = kvWidth();
        List<Map.Entry<String, long[]>> t = new java.util.ArrayList<>();
        t.add(Map.entry(p + "input_layernorm.weight", new long[] {hidden}));
        t.add(Map.entry(p + "self_attn.q_proj.weight", new long[] {hidden, hidden}));
        t.add(Map.entry(p + "self_attn.k_proj.weight", new long[] {kv, hidden}));
        t.add(Map.entry(p + "self_attn.v_proj.weight", new long[] {kv, hidden}));
        if (qkvBias) {
            t.add(Map.entry(p + "self_attn.q_proj.bias", new long[] {hidden}));
            t.add(Map.entry(p + "self_attn.k_proj.bias", new long[] {kv}));
            t.add(Map.entry(p + "self_attn.v_proj.bias", new long[] {kv}));
        }
        t.add(Map.entry(p + "self_attn.o_proj.weight", new long[] {hidden, hidden}));
        t.add(Map.entry(p + "post_attention_layernorm.weight", new long[] {hidden}));
        t.add(Map.entry(p + "mlp.gate_proj.weight", new long[] {intermediate, hidden}));
        t.add(Map.entry(p + "mlp.up_proj.weight", new long[] {intermediate, hidden}));
        t.add(Map.entry(p + "mlp.down_proj.weight", new long[] {hidden, intermediate}));
        return t;
    }
}
