package org.fmsmo.core.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.FloatConversions;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;

/**
 * Writes a Llama checkpoint of any size with pseudo-random BF16 weights, streamed in small chunks
 * (the writer never holds a tensor), for load-time and memory benchmarks.
 */
public final class SyntheticCheckpoint {

    /** Shapes of a Llama; {@code parameters()} counts them. */
    public record Shape(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads) {
        public long parameters() {
            long kv = (long) hidden / heads * kvHeads;
            long perLayer = 2L * hidden * hidden + 2L * hidden * kv + 3L * hidden * intermediate + 2L * hidden;
            return 2L * vocab * hidden + layers * perLayer + hidden;
        }
    }

    /** TinyLlama-1.1B's shapes: 1.1 billion parameters. */
    public static final Shape ONE_B = new Shape(32000, 2048, 5632, 22, 32, 4);

    private SyntheticCheckpoint() {
    }

    public static Path write(Path dir, Shape s, long maxShardBytes) {
        List<TensorData> t = new ArrayList<>();
        int kv = s.hidden() / s.heads() * s.kvHeads();
        t.add(random("model.embed_tokens.weight", s.vocab(), s.hidden()));
        for (int i = 0; i < s.layers(); i++) {
            String p = "model.layers." + i + ".";
            t.add(random(p + "self_attn.q_proj.weight", s.hidden(), s.hidden()));
            t.add(random(p + "self_attn.k_proj.weight", kv, s.hidden()));
            t.add(random(p + "self_attn.v_proj.weight", kv, s.hidden()));
            t.add(random(p + "self_attn.o_proj.weight", s.hidden(), s.hidden()));
            t.add(random(p + "mlp.gate_proj.weight", s.intermediate(), s.hidden()));
            t.add(random(p + "mlp.up_proj.weight", s.intermediate(), s.hidden()));
            t.add(random(p + "mlp.down_proj.weight", s.hidden(), s.intermediate()));
            t.add(random(p + "input_layernorm.weight", s.hidden()));
            t.add(random(p + "post_attention_layernorm.weight", s.hidden()));
        }
        t.add(random("model.norm.weight", s.hidden()));
        t.add(random("lm_head.weight", s.vocab(), s.hidden()));
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama").put("vocab_size", s.vocab()).put("hidden_size", s.hidden())
                .put("intermediate_size", s.intermediate()).put("num_hidden_layers", s.layers())
                .put("num_attention_heads", s.heads()).put("num_key_value_heads", s.kvHeads())
                .put("max_position_embeddings", 2048).put("rms_norm_eps", 1e-5).put("torch_dtype", "bfloat16");
        return SafetensorsWriter.writeModel(dir, t, Map.of("format", "pt"), maxShardBytes, Map.of(), Map.of("config.json", c.toPrettyString()));
    }

    private static TensorData random(String name, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        long count = n;
        long seed = name.hashCode();
        return new TensorData(name, Dtype.BF16, shape, ch -> {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            long x = seed | 1;
            for (long i = 0; i < count; i++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                float v = ((x >>> 40) / (float) (1 << 24) - 0.5f) * 0.04f; // uniform in ±0.02
                buf.putShort(FloatConversions.floatToBf16(v));
                if (!buf.hasRemaining()) {
                    buf.flip();
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                    buf.clear();
                }
            }
            buf.flip();
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        });
    }
}
