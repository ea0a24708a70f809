package org.fmsmo.plugin.gguf;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hugging Face Llama parameter names and llama.cpp's, both ways, and the row order llama.cpp's
 * rotary embedding wants for q and k. Hugging Face rotates the two halves of each head
 * ({@code rotate_half}); llama.cpp rotates adjacent pairs. So each head's rows {@code [0, h/2)}
 * and {@code [h/2, h)} are interleaved on export — row {@code 2i} takes row {@code i}, row
 * {@code 2i+1} takes row {@code i + h/2} — and taken apart again on import. Rows move whole, so
 * quantized blocks (which run along a row) move with their scales unchanged.
 */
final class LlamaNames {

    private static final Map<String, String> GLOBAL = Map.of(
            "model.embed_tokens.weight", "token_embd.weight",
            "model.norm.weight", "output_norm.weight",
            "lm_head.weight", "output.weight");

    private static final Map<String, String> BLOCK = new LinkedHashMap<>();

    static {
        BLOCK.put("input_layernorm.weight", "attn_norm.weight");
        BLOCK.put("self_attn.q_proj.weight", "attn_q.weight");
        BLOCK.put("self_attn.k_proj.weight", "attn_k.weight");
        BLOCK.put("self_attn.v_proj.weight", "attn_v.weight");
        BLOCK.put("self_attn.o_proj.weight", "attn_output.weight");
        BLOCK.put("self_attn.q_proj.bias", "attn_q.bias");
        BLOCK.put("self_attn.k_proj.bias", "attn_k.bias");
        BLOCK.put("self_attn.v_proj.bias", "attn_v.bias");
        BLOCK.put("post_attention_layernorm.weight", "ffn_norm.weight");
        BLOCK.put("mlp.gate_proj.weight", "ffn_gate.weight");
        BLOCK.put("mlp.up_proj.weight", "ffn_up.weight");
        BLOCK.put("mlp.down_proj.weight", "ffn_down.weight");
    }

    private static final Pattern HF_BLOCK = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern GGUF_BLOCK = Pattern.compile("blk\\.(\\d+)\\.(.+)");

    private LlamaNames() {
    }

    /** llama.cpp's name for a Hugging Face parameter, or null when llama.cpp's llama has no such tensor. */
    static String toGguf(String hf) {
        if (GLOBAL.containsKey(hf)) {
            return GLOBAL.get(hf);
        }
        Matcher m = HF_BLOCK.matcher(hf);
        if (m.matches() && BLOCK.containsKey(m.group(2))) {
            return "blk." + m.group(1) + "." + BLOCK.get(m.group(2));
        }
        return null;
    }

    /** The Hugging Face name of a llama.cpp tensor, or null for one a Hugging Face Llama does not have ({@code rope_freqs.weight}). */
    static String toHf(String gguf) {
        for (Map.Entry<String, String> e : GLOBAL.entrySet()) {
            if (e.getValue().equals(gguf)) {
                return e.getKey();
            }
        }
        Matcher m = GGUF_BLOCK.matcher(gguf);
        if (m.matches()) {
            for (Map.Entry<String, String> e : BLOCK.entrySet()) {
                if (e.getValue().equals(m.group(2))) {
                    return "model.layers." + m.group(1) + "." + e.getKey();
                }
            }
        }
        return null;
    }

    /** The number of heads whose rows are reordered in {@code hf} (q: all heads; k: the key-value heads), or 0 for other tensors. */
    static int rotaryHeads(String hf, int heads, int kvHeads) {
        if (hf.endsWith("self_attn.q_proj.weight") || hf.endsWith("self_attn.q_proj.bias")) {
            return heads;
        }
        if (hf.endsWith("self_attn.k_proj.weight") || hf.endsWith("self_attn.k_proj.bias")) {
            return kvHeads;
        }
        return 0;
    }

    /**
     * Row {@code r} of the llama.cpp tensor is row {@code source(r)} of the Hugging Face one, for a
     * tensor of {@code rows} rows in {@code heads} heads.
     */
    static int sourceRow(int r, int rows, int heads) {
        int h = rows / heads;
        int head = r / h;
        int i = r % h;
        return head * h + (i % 2 == 0 ? i / 2 : i / 2 + h / 2);
    }

    /** Reorders whole rows: {@code out} row r = {@code in} row {@code sourceRow(r)} (export), or the inverse (import). */
    static float[] permuteRows(float[] in, int rows, int heads, boolean toGguf) {
        int cols = in.length / rows;
        float[] out = new float[in.length];
        for (int r = 0; r < rows; r++) {
            int s = sourceRow(r, rows, heads);
            if (toGguf) {
                System.arraycopy(in, s * cols, out, r * cols, cols);
            } else {
                System.arraycopy(in, r * cols, out, s * cols, cols);
            }
        }
        return out;
    }
}
