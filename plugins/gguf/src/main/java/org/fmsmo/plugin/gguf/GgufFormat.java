package org.fmsmo.plugin.gguf;

import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.RopeParameters;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.export.ExportFormat;
import org.fmsmo.api.export.ExportFormatProvider;
import org.fmsmo.api.export.ExportModel;
import org.fmsmo.api.export.ExportSource;
import org.fmsmo.api.export.ImportedModel;
import org.fmsmo.api.format.StoredTensor;
import org.fmsmo.api.plugin.ConfigKeySpec;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * Llama-family models as GGUF, the file llama.cpp runs: {@code general.*} and {@code llama.*}
 * hyperparameters, the tokenizer as {@code tokenizer.ggml.*}, and the tensors under llama.cpp's
 * names, q and k rows in its rotary order, 2-D weights in the chosen type
 * ({@value #TYPE_KEY}: {@code f32}, {@code f16}, {@code q8_0}, {@code q4_0}, {@code q4_k}),
 * norms in F32.
 *
 * <p>A layer a method froze keeps the method's rounding where the block type can hold it: a
 * symmetric 4-bit (Q4_0) or 8-bit (Q8_0) integer code with one scale per 32-wide block (per
 * channel, or groups that are multiples of 32) is written as its codes, only its scale rounded
 * to fp16. Everything else (asymmetric codes, Q4_K, float layers) is rounded by the block
 * quantizer from the values the model computes with. The embedding and output matrices use Q8_0
 * in a 4-bit file, as llama.cpp keeps them above the body's precision; a tensor whose rows are
 * not a whole number of blocks falls back (Q4_K to Q4_0, then to F16).
 */
public final class GgufFormat implements ExportFormat {

    /** The option naming the weights' type. */
    public static final String TYPE_KEY = "gguf_type";

    private static final System.Logger LOG = System.getLogger(GgufFormat.class.getName());

    @Override
    public String extension() {
        return "gguf";
    }

    private static GgmlType bodyType(ExportSource model) {
        return switch (model.options().getString(TYPE_KEY, "q8_0")) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "q4_0" -> GgmlType.Q4_0;
            case "q4_k" -> GgmlType.Q4_K;
            default -> GgmlType.Q8_0;
        };
    }

    @Override
    public void checkBeforeLoading(ExportModel model) {
        String where = model.location();
        if (!model.config().modelType().equals("llama")) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": model_type is '" + model.config().modelType()
                    + "'; the GGUF exporter writes llama.cpp's llama architecture (model_type llama)");
        }
        if (!(model.architecture() instanceof TransformerSpec t) || t.encoder() != null || t.moe() != null
                || t.norm() != TransformerSpec.Norm.RMS || t.layout() != TransformerSpec.Layout.PRE_NORM
                || t.activation() != TransformerSpec.Activation.SILU || t.attention().qkNorm() || t.attention().softcap() != 0
                || !t.scaling().equals(TransformerSpec.Scaling.NONE) || t.fusedQkv() || t.fusedGateUp() || t.mlpBias() || t.attention().outputBias()) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": the architecture is not a plain Llama decoder"
                    + " (RMSNorm, pre-norm, SwiGLU, no q/k norm, soft cap, scaling, fused or MLP-bias weights)");
        }
        for (TransformerSpec.Layer l : t.layers()) {
            if (l.slidingWindow() > 0) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": sliding-window attention, which llama.cpp's llama does not run");
            }
            rope(l.rope(), where);
        }
        Map<String, Object> tokenizer = model.jsonFile("tokenizer.json").orElseThrow(() -> new FmsmoException(ErrorCode.UNSUPPORTED_SPEC,
                where + ": there is no tokenizer.json, and a GGUF file carries its tokenizer"));
        GgufTokenizer.fromJson(tokenizer, t.vocabSize(), model.config().integer("bos_token_id", 1), where + "/tokenizer.json");
    }

    @Override
    public void check(ExportSource model) {
        checkBeforeLoading(model);
        for (String name : model.parameterNames()) {
            if (LlamaNames.toGguf(name) == null) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, model.location() + ": parameter " + name + " has no place in llama.cpp's llama");
            }
        }
    }

    /** The rotary parameters llama.cpp's llama can express; refuses the others. */
    private static RopeParameters rope(RopeParameters r, String where) {
        if (!List.of("default", "linear", "llama3").contains(r.type()) || r.partialRotaryFactor() != 1) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": rope type '" + r.type() + "' (partial factor " + r.partialRotaryFactor()
                    + "); the GGUF exporter writes default, linear and llama3 rotary embeddings over whole heads");
        }
        return r;
    }

    @Override
    public void write(ExportSource model, WritableByteChannel out) {
        check(model);
        TransformerSpec t = (TransformerSpec) model.architecture();
        GgmlType body = bodyType(model);
        long bos = model.config().integer("bos_token_id", 1);
        GgufTokenizer.Vocabulary vocab = GgufTokenizer.fromJson(model.jsonFile("tokenizer.json").orElseThrow(), t.vocabSize(), bos,
                model.location() + "/tokenizer.json");
        GgufWriter w = new GgufWriter();
        String name = Path.of(model.location()).getFileName() == null ? "model" : Path.of(model.location()).getFileName().toString();
        w.put("general.architecture", GgufValue.string("llama"));
        w.put("general.name", GgufValue.string(name));
        w.put("general.alignment", GgufValue.u32(GgufWriter.ALIGNMENT));
        w.put("general.file_type", GgufValue.u32(fileType(body)));
        w.put("general.quantization_version", GgufValue.u32(2));
        w.put("llama.vocab_size", GgufValue.u32(t.vocabSize()));
        w.put("llama.context_length", GgufValue.u32(t.maxPositions()));
        w.put("llama.embedding_length", GgufValue.u32(t.hiddenSize()));
        w.put("llama.block_count", GgufValue.u32(t.layers().size()));
        w.put("llama.feed_forward_length", GgufValue.u32(t.intermediateSize()));
        w.put("llama.rope.dimension_count", GgufValue.u32(t.headDim()));
        w.put("llama.attention.head_count", GgufValue.u32(t.numHeads()));
        w.put("llama.attention.head_count_kv", GgufValue.u32(t.numKvHeads()));
        w.put("llama.attention.key_length", GgufValue.u32(t.headDim()));
        w.put("llama.attention.value_length", GgufValue.u32(t.headDim()));
        w.put("llama.attention.layer_norm_rms_epsilon", GgufValue.f32(t.normEps()));
        RopeParameters rope = t.layers().getFirst().rope();
        w.put("llama.rope.freq_base", GgufValue.f32(rope.theta()));
        if (rope.type().equals("linear")) {
            w.put("llama.rope.scaling.type", GgufValue.string("linear"));
            w.put("llama.rope.scaling.factor", GgufValue.f32(rope.scaling().get("factor")));
        }
        w.put("tokenizer.ggml.model", GgufValue.string("gpt2"));
        w.put("tokenizer.ggml.pre", GgufValue.string(vocab.pre()));
        w.put("tokenizer.ggml.tokens", GgufValue.array(GgufValue.STRING, vocab.tokens()));
        w.put("tokenizer.ggml.token_type", GgufValue.array(GgufValue.INT32, vocab.types()));
        w.put("tokenizer.ggml.merges", GgufValue.array(GgufValue.STRING, vocab.merges()));
        w.put("tokenizer.ggml.bos_token_id", GgufValue.u32(bos));
        w.put("tokenizer.ggml.eos_token_id", GgufValue.u32(model.config().integer("eos_token_id", 2)));
        if (vocab.unknown() != null) {
            w.put("tokenizer.ggml.unknown_token_id", GgufValue.u32(vocab.unknown()));
        }
        w.put("tokenizer.ggml.add_bos_token", GgufValue.bool(vocab.addBos()));
        w.put("tokenizer.ggml.add_eos_token", GgufValue.bool(false));

        if (rope.type().equals("llama3")) {
            float[] factors = llama3Factors(rope, t.headDim());
            w.tensor("rope_freqs.weight", new long[] {factors.length}, GgmlType.F32, () -> encode(factors, GgmlType.F32));
        }
        int[] kept = new int[3]; // codes kept, rounded again by the block quantizer, stored as floats (F16/F32)
        List<String> fallbacks = new ArrayList<>();
        for (String hf : model.parameterNames()) {
            long[] shape = model.shape(hf);
            long[] dims = new long[shape.length];
            for (int i = 0; i < shape.length; i++) {
                dims[i] = shape[shape.length - 1 - i];
            }
            GgmlType type = shape.length == 1 ? GgmlType.F32 : typeFor(hf, dims[0], body, fallbacks);
            int heads = LlamaNames.rotaryHeads(hf, t.numHeads(), t.numKvHeads());
            String layer = hf.endsWith(".weight") ? hf.substring(0, hf.length() - ".weight".length()) : null;
            w.tensor(LlamaNames.toGguf(hf), dims, type, () -> {
                Optional<QuantizedTensor> codes = layer == null ? Optional.empty() : model.codes(layer);
                if (codes.isPresent() && expressible(codes.get(), type)) {
                    kept[0]++;
                    return fromCodes(codes.get(), type, heads);
                }
                if (codes.isPresent()) {
                    kept[type == GgmlType.F16 || type == GgmlType.F32 ? 2 : 1]++;
                }
                float[] v = model.floats(hf);
                return encode(heads > 0 ? LlamaNames.permuteRows(v, (int) shape[0], heads, true) : v, type);
            });
        }
        model.progress().begin("gguf", model.parameterNames().size() + (rope.type().equals("llama3") ? 1 : 0), "tensors");
        try {
            w.write(out, () -> model.progress().advance(1));
        } finally {
            model.progress().end();
        }
        if (!fallbacks.isEmpty()) {
            LOG.log(System.Logger.Level.INFO, "{0} tensors are stored in another type than {1}, their rows not being whole blocks: {2}",
                    fallbacks.size(), body, fallbacks.size() > 6 ? fallbacks.subList(0, 6) + " …" : fallbacks);
        }
        if (kept[0] + kept[1] + kept[2] > 0) {
            LOG.log(System.Logger.Level.INFO, "{0} quantized layers keep their method''s codes in {1}; {2} are rounded again by the block quantizer;"
                    + " {3} are stored as floats (their dequantized weights)", kept[0], body, kept[1], kept[2]);
        }
    }

    /** {@code llama_ftype}: all F32 0, mostly F16 1, Q4_0 2, Q8_0 7, Q4_K_S 14. */
    private static int fileType(GgmlType body) {
        return switch (body) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case Q4_K -> 14;
        };
    }

    private static GgmlType typeFor(String hf, long rowLength, GgmlType body, List<String> fallbacks) {
        boolean table = hf.equals("model.embed_tokens.weight") || hf.equals("lm_head.weight");
        GgmlType want = table && (body == GgmlType.Q4_0 || body == GgmlType.Q4_K) ? GgmlType.Q8_0 : body;
        for (GgmlType t : switch (want) {
            case Q4_K -> List.of(GgmlType.Q4_K, GgmlType.Q4_0, GgmlType.F16);
            case Q4_0, Q8_0 -> List.of(want, GgmlType.F16);
            default -> List.of(want);
        }) {
            if (t.fits(rowLength)) {
                if (t != want) {
                    fallbacks.add(hf + " → " + t);
                }
                return t;
            }
        }
        throw new IllegalStateException("F16 fits every row");
    }

    /** Whether a method's codes are Q4_0 or Q8_0 blocks already: symmetric integers of the type's width, one scale per 32 columns. */
    static boolean expressible(QuantizedTensor q, GgmlType type) {
        var spec = q.spec();
        int bits = type == GgmlType.Q4_0 ? 4 : type == GgmlType.Q8_0 ? 8 : -1;
        if (spec.type() != QuantType.INT || !spec.symmetric() || spec.bits() != bits || q.zeroPoint().isPresent()) {
            return false;
        }
        long cols = q.shape().get(1);
        if (spec.granularity() == Granularity.CHANNEL || spec.granularity() == Granularity.TENSOR) {
            return true;
        }
        if (spec.granularity() != Granularity.GROUP) {
            return false;
        }
        if (q.groupIndex().isEmpty()) {
            return spec.groupSize() % 32 == 0 || spec.groupSize() >= cols;
        }
        int[] g = q.groupIndex().get().toIntArray(); // act-order: a block keeps its codes only if its 32 columns share a group
        for (int b = 0; b < cols; b += 32) {
            for (int j = 1; j < 32; j++) {
                if (g[b + j] != g[b]) {
                    return false;
                }
            }
        }
        return true;
    }

    private static ByteBuffer fromCodes(QuantizedTensor q, GgmlType type, int heads) {
        int rows = (int) q.shape().get(0);
        int cols = (int) q.shape().get(1);
        byte[] raw = q.codes().toByteArray();
        float[] scale = q.scale().toFloatArray();
        int scaleCols = scale.length / (q.spec().granularity() == Granularity.TENSOR ? scale.length : rows);
        int[] gIdx = q.groupIndex().map(a -> a.toIntArray()).orElse(null);
        ByteBuffer out = GgmlType.little((int) type.bytes((long) rows * cols));
        int[] codes = new int[cols];
        for (int r = 0; r < rows; r++) {
            int s = heads > 0 ? LlamaNames.sourceRow(r, rows, heads) : r;
            for (int c = 0; c < cols; c++) {
                codes[c] = raw[s * cols + c]; // symmetric codes are int8
            }
            for (int b = 0; b < cols; b += 32) {
                float sc;
                switch (q.spec().granularity()) {
                    case TENSOR -> sc = scale[0];
                    case CHANNEL -> sc = scale[s];
                    default -> sc = scale[s * scaleCols + (gIdx != null ? gIdx[b] : Math.min(b / q.spec().groupSize(), scaleCols - 1))];
                }
                if (type == GgmlType.Q4_0) {
                    GgmlType.q4BlockFromCodes(codes, b, sc, out);
                } else {
                    GgmlType.q8BlockFromCodes(codes, b, sc, out);
                }
            }
        }
        return out.flip();
    }

    private static ByteBuffer encode(float[] v, GgmlType type) {
        ByteBuffer out = GgmlType.little(Math.toIntExact(type.bytes(v.length)));
        type.quantize(v, out);
        return out.flip();
    }

    /**
     * Llama 3's per-frequency divisors, as {@code rope_freqs.weight}: 1 above the high-frequency
     * cutoff, {@code factor} below the low one, smoothly between.
     */
    static float[] llama3Factors(RopeParameters rope, int headDim) {
        double factor = rope.scaling().get("factor");
        double low = rope.scaling().getOrDefault("low_freq_factor", 1.0);
        double high = rope.scaling().getOrDefault("high_freq_factor", 4.0);
        double original = rope.scaling().getOrDefault("original_max_position_embeddings", 8192.0);
        double lowWavelen = original / low;
        double highWavelen = original / high;
        float[] f = new float[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            double freq = 1 / Math.pow(rope.theta(), 2.0 * i / headDim);
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) {
                f[i] = 1;
            } else if (wavelen > lowWavelen) {
                f[i] = (float) factor;
            } else {
                double smooth = (original / wavelen - low) / (high - low);
                f[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        return f;
    }

    @Override
    public ImportedModel read(Path file) {
        GgufFile g = GgufFile.read(file);
        Map<String, GgufValue> md = g.metadata();
        String arch = text(md, "general.architecture", file);
        if (!arch.equals("llama")) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, file + ": general.architecture is '" + arch + "'; this reader turns llama back into a Hugging Face model");
        }
        if (g.tensors().containsKey("rope_freqs.weight")) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, file + ": Llama 3 rope scaling (rope_freqs.weight) cannot be turned back into config.json's rope_scaling");
        }
        int hidden = uint(md, "llama.embedding_length", file);
        int heads = uint(md, "llama.attention.head_count", file);
        int kvHeads = md.containsKey("llama.attention.head_count_kv") ? uint(md, "llama.attention.head_count_kv", file) : heads;
        int headDim = md.containsKey("llama.attention.key_length") ? uint(md, "llama.attention.key_length", file) : hidden / heads;
        List<Object> tokens = list(md, "tokenizer.ggml.tokens", file);
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architectures", List.of("LlamaForCausalLM"));
        config.put("model_type", "llama");
        config.put("hidden_act", "silu");
        config.put("vocab_size", md.containsKey("llama.vocab_size") ? uint(md, "llama.vocab_size", file) : tokens.size());
        config.put("hidden_size", hidden);
        config.put("intermediate_size", uint(md, "llama.feed_forward_length", file));
        config.put("num_hidden_layers", uint(md, "llama.block_count", file));
        config.put("num_attention_heads", heads);
        config.put("num_key_value_heads", kvHeads);
        config.put("head_dim", headDim);
        config.put("max_position_embeddings", uint(md, "llama.context_length", file));
        config.put("rms_norm_eps", number(md, "llama.attention.layer_norm_rms_epsilon", file));
        config.put("rope_theta", md.containsKey("llama.rope.freq_base") ? number(md, "llama.rope.freq_base", file) : 10000.0);
        if (md.containsKey("llama.rope.scaling.type") && text(md, "llama.rope.scaling.type", file).equals("linear")) {
            config.put("rope_scaling", Map.of("rope_type", "linear", "factor", number(md, "llama.rope.scaling.factor", file)));
        } else if (md.containsKey("llama.rope.scaling.type") && !text(md, "llama.rope.scaling.type", file).equals("none")) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, file + ": llama.rope.scaling.type '" + text(md, "llama.rope.scaling.type", file) + "'");
        }
        config.put("tie_word_embeddings", !g.tensors().containsKey("output.weight"));
        config.put("attention_bias", g.tensors().containsKey("blk.0.attn_q.bias"));
        config.put("mlp_bias", false);
        Long bos = md.containsKey("tokenizer.ggml.bos_token_id") ? (long) uint(md, "tokenizer.ggml.bos_token_id", file) : null;
        if (bos != null) {
            config.put("bos_token_id", bos);
        }
        if (md.containsKey("tokenizer.ggml.eos_token_id")) {
            config.put("eos_token_id", uint(md, "tokenizer.ggml.eos_token_id", file));
        }
        config.put("torch_dtype", "float32");
        Map<String, StoredTensor> tensors = new LinkedHashMap<>();
        for (GgufFile.TensorInfo ti : g.tensors().values()) {
            String hf = LlamaNames.toHf(ti.name());
            if (hf == null) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, file + ": tensor " + ti.name() + " has no Hugging Face Llama counterpart");
            }
            long[] shape = new long[ti.dims().length];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = ti.dims()[shape.length - 1 - i];
            }
            float[] v = g.floats(ti);
            int rot = LlamaNames.rotaryHeads(hf, heads, kvHeads);
            if (rot > 0) {
                if (shape[0] % rot != 0 || (shape[0] / rot) % 2 != 0) {
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": " + ti.name() + " has " + shape[0] + " rows, not " + rot + " heads of even width");
                }
                v = LlamaNames.permuteRows(v, (int) shape[0], rot, false);
            }
            tensors.put(hf, StoredTensor.ofFloats(shape, v));
        }
        String model = text(md, "tokenizer.ggml.model", file);
        if (!model.equals("gpt2")) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, file + ": tokenizer.ggml.model is '" + model + "'; this reader rebuilds byte-level BPE (gpt2)");
        }
        String pre = md.containsKey("tokenizer.ggml.pre") ? text(md, "tokenizer.ggml.pre", file) : "gpt-2";
        if (!pre.equals("gpt-2") && !pre.equals("llama-bpe")) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, file + ": tokenizer.ggml.pre is '" + pre + "'; this reader rebuilds gpt-2 and llama-bpe");
        }
        List<String> tokenList = new ArrayList<>();
        tokens.forEach(o -> tokenList.add((String) o));
        List<Long> types = new ArrayList<>();
        if (md.containsKey("tokenizer.ggml.token_type")) {
            list(md, "tokenizer.ggml.token_type", file).forEach(o -> types.add(((Number) o).longValue()));
        }
        while (types.size() < tokenList.size()) {
            types.add((long) GgufTokenizer.NORMAL);
        }
        List<String> merges = new ArrayList<>();
        if (md.containsKey("tokenizer.ggml.merges")) {
            list(md, "tokenizer.ggml.merges", file).forEach(o -> merges.add((String) o));
        }
        Long unknown = md.containsKey("tokenizer.ggml.unknown_token_id") ? (long) uint(md, "tokenizer.ggml.unknown_token_id", file) : null;
        boolean addBos = md.containsKey("tokenizer.ggml.add_bos_token") && Boolean.TRUE.equals(md.get("tokenizer.ggml.add_bos_token").value());
        for (Long id : java.util.Arrays.asList(bos, unknown)) {
            if (id != null && id >= tokenList.size()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": token id " + id + " is outside the " + tokenList.size() + " tokens");
            }
        }
        var vocab = new GgufTokenizer.Vocabulary(pre, tokenList, types, merges, unknown, addBos);
        return new ImportedModel(config, tensors, Map.of("tokenizer.json", GgufTokenizer.toJson(vocab, bos)));
    }

    private static GgufValue value(Map<String, GgufValue> md, String key, Path file) {
        GgufValue v = md.get(key);
        if (v == null) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": metadata " + key + " is missing");
        }
        return v;
    }

    private static String text(Map<String, GgufValue> md, String key, Path file) {
        GgufValue v = value(md, key, file);
        if (v.type() != GgufValue.STRING) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": metadata " + key + " must be a string");
        }
        return (String) v.value();
    }

    private static int uint(Map<String, GgufValue> md, String key, Path file) {
        GgufValue v = value(md, key, file);
        if (!(v.value() instanceof Long l) || l <= 0 || l > Integer.MAX_VALUE) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": metadata " + key + " must be a positive integer, found " + v.value());
        }
        return l.intValue();
    }

    private static double number(Map<String, GgufValue> md, String key, Path file) {
        GgufValue v = value(md, key, file);
        if (!(v.value() instanceof Number n) || !Double.isFinite(n.doubleValue())) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": metadata " + key + " must be a finite number, found " + v.value());
        }
        return n.doubleValue();
    }

    private static List<Object> list(Map<String, GgufValue> md, String key, Path file) {
        GgufValue v = value(md, key, file);
        if (v.type() != GgufValue.ARRAY) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": metadata " + key + " must be an array");
        }
        return v.asList();
    }

    /** {@code gguf}. */
    public static final class Provider implements ExportFormatProvider {
        @Override
        public String name() {
            return "gguf";
        }

        @Override
        public String description() {
            return "GGUF for llama.cpp: Llama models in F32, F16, Q8_0, Q4_0 or Q4_K, with the tokenizer; reads them back";
        }

        @Override
        public List<ConfigKeySpec> configKeys() {
            return List.of(ConfigKeySpec.choice(TYPE_KEY, "GGUF weight type (embedding and output stay Q8_0 in 4-bit files); default q8_0",
                    "f32", "f16", "q8_0", "q4_0", "q4_k"));
        }

        @Override
        public ExportFormat create() {
            return new GgufFormat();
        }
    }
}
