package org.fmsmo.core.eval;

import java.util.Arrays;
import java.util.List;
import org.fmsmo.core.hf.HfTokenizer;

/**
 * One forward's input: token ids and attention mask {@code [b, t]}, row-major, and how many of
 * those tokens are not padding.
 */
public record TokenBatch(long[] ids, long[] mask, int b, int t, long tokens) {

    /**
     * Sentences {@code [first, first + count)} encoded with special tokens, each cut at
     * {@code maxTokens}, padded with id 0 (mask 0) to the longest of them.
     */
    static TokenBatch padded(HfTokenizer tokenizer, List<String> sentences, int first, int count, int maxTokens) {
        long[][] ids = new long[count][];
        int t = 1;
        long tokens = 0;
        for (int i = 0; i < count; i++) {
            long[] e = tokenizer.encode(sentences.get(first + i), true);
            ids[i] = e.length > maxTokens ? Arrays.copyOf(e, maxTokens) : e;
            t = Math.max(t, ids[i].length);
            tokens += ids[i].length;
        }
        long[] flat = new long[count * t];
        long[] mask = new long[count * t];
        for (int i = 0; i < count; i++) {
            System.arraycopy(ids[i], 0, flat, i * t, ids[i].length);
            Arrays.fill(mask, i * t, i * t + ids[i].length, 1L);
        }
        return new TokenBatch(flat, mask, count, t, tokens);
    }
}
