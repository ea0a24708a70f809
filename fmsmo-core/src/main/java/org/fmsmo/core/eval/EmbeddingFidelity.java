package org.fmsmo.core.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.model.SentenceEncoder;

/**
 * Sentence embeddings of an encoder over a list of sentences, and how close they are to a
 * reference encoder's: the cosine similarity per sentence, its mean and its minimum.
 */
public final class EmbeddingFidelity {

    /** Cosine statistics; {@code perSentence} in input order. */
    public record Result(double mean, double min, double[] perSentence) {
    }

    /** Embeddings {@code [n][hidden]} plus timing. */
    public record Embeddings(float[][] vectors, long tokens, double seconds) {
        public double tokensPerSecond() {
            return tokens / Math.max(seconds, 1e-9);
        }
    }

    private EmbeddingFidelity() {
    }

    /**
     * Embeds sentences in padded batches with the model's tokenizer (special tokens added).
     *
     * @param maxTokens sentences longer than this are cut (keeping the final special token's slot is the tokenizer's business)
     */
    public static Embeddings embed(SentenceEncoder model, List<String> sentences, int batchSize, int maxTokens,
                                   ProgressListener progress) {
        HfTokenizer tokenizer = model.tokenizer();
        float[][] out = new float[sentences.size()][];
        long tokens = 0;
        long nanos = 0;
        progress.begin("embed", sentences.size(), "sentences");
        try {
            for (int first = 0; first < sentences.size(); first += batchSize) {
                if (progress.isCancelled()) {
                    throw new CancellationException("embedding cancelled");
                }
                int b = Math.min(batchSize, sentences.size() - first);
                TokenBatch padded = TokenBatch.padded(tokenizer, sentences, first, b, maxTokens);
                tokens += padded.tokens();
                try (NDManager batch = model.manager().newSubManager()) {
                    Shape shape = new Shape(b, padded.t());
                    long t0 = System.nanoTime();
                    NDArray e = model.embed(batch.create(padded.ids(), shape), batch.create(padded.mask(), shape));
                    float[] v = e.toFloatArray();
                    nanos += System.nanoTime() - t0;
                    int h = (int) e.getShape().get(1);
                    for (int i = 0; i < b; i++) {
                        out[first + i] = java.util.Arrays.copyOfRange(v, i * h, (i + 1) * h);
                    }
                }
                progress.advance(b);
            }
        } finally {
            progress.end();
        }
        return new Embeddings(out, tokens, nanos / 1e9);
    }

    /** Cosine similarity of corresponding rows. */
    public static Result compare(float[][] a, float[][] b) {
        if (a.length != b.length || a.length == 0) {
            throw new IllegalArgumentException("need the same, non-zero number of embeddings, found " + a.length + " and " + b.length);
        }
        double[] cos = new double[a.length];
        double sum = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < a.length; i++) {
            cos[i] = cosine(a[i], b[i]);
            sum += cos[i];
            min = Math.min(min, cos[i]);
        }
        return new Result(sum / a.length, min, cos);
    }

    /** {@code a·b / (|a||b|)} in double. */
    public static double cosine(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("embedding sizes differ: " + a.length + " and " + b.length);
        }
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
