package org.fmsmo.plugin.gguf;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * A byte-level BPE {@code tokenizer.json} as llama.cpp's {@code tokenizer.ggml.*} metadata, and
 * back: model {@code gpt2}, the tokens in id order (padded to the model's vocabulary with unused
 * {@code [PADn]} entries), their types (normal, control for special added tokens, user-defined for
 * other added ones), the merges as {@code "a b"}, and the pre-tokenizer by llama.cpp's name for
 * its split pattern: {@code gpt-2} (ByteLevel's own regex) or {@code llama-bpe} (Llama 3's).
 */
final class GgufTokenizer {

    /** llama.cpp's {@code llama_token_type}. */
    static final int NORMAL = 1;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;

    /** Llama 3's split pattern, as its tokenizer.json carries it. */
    static final String LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** What the metadata holds. */
    record Vocabulary(String pre, List<String> tokens, List<Long> types, List<String> merges, Long unknown, boolean addBos) {
    }

    private GgufTokenizer() {
    }

    /**
     * Reads {@code tokenizer.json}.
     *
     * @param vocabSize the model's vocabulary ({@code config.json}); the token list is padded to it
     * @throws FmsmoException {@link ErrorCode#UNSUPPORTED_SPEC} for a tokenizer llama.cpp's gpt2 model cannot run as it is
     */
    @SuppressWarnings("unchecked")
    static Vocabulary fromJson(Map<String, Object> json, int vocabSize, long bos, String where) {
        Map<String, Object> model = map(json.get("model"));
        if (model == null || !"BPE".equals(model.get("type"))) {
            throw unsupported(where, "model.type is " + (model == null ? "missing" : model.get("type")) + "; the GGUF exporter converts byte-level BPE");
        }
        if (json.get("normalizer") != null) {
            throw unsupported(where, "it has a normalizer (" + map(json.get("normalizer")).get("type") + "), which llama.cpp's gpt2 tokenizer does not apply");
        }
        String pre = preTokenizer(map(json.get("pre_tokenizer")), where);
        Map<String, Object> vocab = map(model.get("vocab"));
        String[] tokens = new String[vocabSize];
        long[] types = new long[vocabSize];
        for (Map.Entry<String, Object> e : vocab.entrySet()) {
            int id = ((Number) e.getValue()).intValue();
            if (id < 0 || id >= vocabSize) {
                throw unsupported(where, "token '" + e.getKey() + "' has id " + id + ", outside the model's vocabulary of " + vocabSize);
            }
            tokens[id] = e.getKey();
            types[id] = NORMAL;
        }
        for (Object o : (List<Object>) json.getOrDefault("added_tokens", List.of())) {
            Map<String, Object> t = map(o);
            int id = ((Number) t.get("id")).intValue();
            if (id < 0 || id >= vocabSize) {
                throw unsupported(where, "added token '" + t.get("content") + "' has id " + id + ", outside the model's vocabulary of " + vocabSize);
            }
            tokens[id] = (String) t.get("content");
            types[id] = Boolean.TRUE.equals(t.get("special")) ? CONTROL : USER_DEFINED;
        }
        List<String> tokenList = new ArrayList<>();
        List<Long> typeList = new ArrayList<>();
        for (int i = 0; i < vocabSize; i++) {
            tokenList.add(tokens[i] != null ? tokens[i] : "[PAD" + i + "]");
            typeList.add(tokens[i] != null ? types[i] : UNUSED);
        }
        List<String> merges = new ArrayList<>();
        for (Object m : (List<Object>) model.getOrDefault("merges", List.of())) {
            // older files store "a b", newer ones ["a", "b"]
            merges.add(m instanceof List<?> pair ? pair.get(0) + " " + pair.get(1) : (String) m);
        }
        Long unknown = model.get("unk_token") instanceof String u && vocab.get(u) instanceof Number n ? n.longValue() : null;
        return new Vocabulary(pre, tokenList, typeList, merges, unknown, addsBos(map(json.get("post_processor")), bos));
    }

    @SuppressWarnings("unchecked")
    private static String preTokenizer(Map<String, Object> p, String where) {
        if (p != null && "ByteLevel".equals(p.get("type")) && !Boolean.FALSE.equals(p.get("use_regex")) && !Boolean.TRUE.equals(p.get("add_prefix_space"))) {
            return "gpt-2";
        }
        if (p != null && "Sequence".equals(p.get("type"))) {
            List<Object> parts = (List<Object>) p.get("pretokenizers");
            if (parts != null && parts.size() == 2) {
                Map<String, Object> split = map(parts.get(0));
                Map<String, Object> bytes = map(parts.get(1));
                Map<String, Object> pattern = split == null ? null : map(split.get("pattern"));
                if ("Split".equals(split.get("type")) && pattern != null && LLAMA3_PATTERN.equals(pattern.get("Regex"))
                        && "ByteLevel".equals(bytes.get("type")) && Boolean.FALSE.equals(bytes.get("use_regex"))) {
                    return "llama-bpe";
                }
            }
        }
        throw unsupported(where, "pre_tokenizer " + p + " is neither GPT-2's byte-level split nor Llama 3's; llama.cpp would split text differently");
    }

    /** Whether the post-processor puts the BOS token first in a single sequence. */
    @SuppressWarnings("unchecked")
    private static boolean addsBos(Map<String, Object> post, long bos) {
        if (post == null || !"TemplateProcessing".equals(post.get("type"))) {
            return false;
        }
        List<Object> single = (List<Object>) post.get("single");
        Map<String, Object> first = single == null || single.isEmpty() ? null : map(map(single.get(0)).get("SpecialToken"));
        Map<String, Object> specials = map(post.get("special_tokens"));
        if (first == null || specials == null) {
            return false;
        }
        Map<String, Object> special = map(specials.get(first.get("id")));
        List<Object> ids = special == null ? null : (List<Object>) special.get("ids");
        return ids != null && ids.size() == 1 && ((Number) ids.get(0)).longValue() == bos;
    }

    /** The {@code tokenizer.json} the metadata stands for. */
    static Map<String, Object> toJson(Vocabulary v, Long bos) {
        Map<String, Object> vocab = new LinkedHashMap<>();
        List<Object> added = new ArrayList<>();
        for (int i = 0; i < v.tokens().size(); i++) {
            String t = v.tokens().get(i);
            long type = v.types().get(i);
            if (type == CONTROL || type == USER_DEFINED) {
                Map<String, Object> a = new LinkedHashMap<>();
                a.put("id", i);
                a.put("content", t);
                a.put("single_word", false);
                a.put("lstrip", false);
                a.put("rstrip", false);
                a.put("normalized", false);
                a.put("special", type == CONTROL);
                added.add(a);
            }
            vocab.putIfAbsent(t, i);
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", v.unknown() == null ? null : v.tokens().get(v.unknown().intValue()));
        model.put("continuing_subword_prefix", null);
        model.put("end_of_word_suffix", null);
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("vocab", vocab);
        model.put("merges", v.merges());
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("version", "1.0");
        json.put("truncation", null);
        json.put("padding", null);
        json.put("added_tokens", added);
        json.put("normalizer", null);
        json.put("pre_tokenizer", switch (v.pre()) {
            case "gpt-2" -> byteLevel(true);
            case "llama-bpe" -> Map.of("type", "Sequence", "pretokenizers", List.of(
                    Map.of("type", "Split", "pattern", Map.of("Regex", LLAMA3_PATTERN), "behavior", "Isolated", "invert", false),
                    byteLevel(false)));
            default -> throw new IllegalStateException(v.pre());
        });
        if (v.addBos() && bos != null) {
            String b = v.tokens().get(bos.intValue());
            json.put("post_processor", Map.of("type", "TemplateProcessing",
                    "single", List.of(Map.of("SpecialToken", Map.of("id", b, "type_id", 0)), Map.of("Sequence", Map.of("id", "A", "type_id", 0))),
                    "pair", List.of(Map.of("SpecialToken", Map.of("id", b, "type_id", 0)), Map.of("Sequence", Map.of("id", "A", "type_id", 0)),
                            Map.of("SpecialToken", Map.of("id", b, "type_id", 1)), Map.of("Sequence", Map.of("id", "B", "type_id", 1))),
                    "special_tokens", Map.of(b, Map.of("id", b, "ids", List.of(bos), "tokens", List.of(b)))));
        } else {
            json.put("post_processor", null);
        }
        json.put("decoder", Map.of("type", "ByteLevel", "add_prefix_space", true, "trim_offsets", true, "use_regex", true));
        json.put("model", model);
        return json;
    }

    private static Map<String, Object> byteLevel(boolean regex) {
        return Map.of("type", "ByteLevel", "add_prefix_space", false, "trim_offsets", true, "use_regex", regex);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : null;
    }

    private static FmsmoException unsupported(String where, String what) {
        return new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": " + what);
    }
}
