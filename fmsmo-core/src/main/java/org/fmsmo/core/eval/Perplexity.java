package org.fmsmo.core.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.model.CausalLM;

/**
 * Perplexity of a causal LM over one long token stream, in non-overlapping windows: window
 * {@code k} feeds {@code ids[s, s+W)} and scores {@code ids[s+1, s+W+1)} for
 * {@code s = 0, W, 2W, …} while {@code s < n − W}; perplexity is {@code exp(ΣNLL / #targets)}.
 * Every window starts without context, so the number depends on {@code W} (state it with results).
 */
public final class Perplexity {

    /**
     * @param nll     total negative log-likelihood in nats
     * @param tokens  targets scored
     * @param seconds time spent in forward passes
     */
    public record Result(double perplexity, double nll, long tokens, int windows, double seconds) {
        public double tokensPerSecond() {
            return tokens / Math.max(seconds, 1e-9);
        }
    }

    private Perplexity() {
    }

    /**
     * @param ids       the whole text's token ids (without special tokens)
     * @param window    tokens per window
     * @param batchSize windows per forward pass
     */
    public static Result evaluate(CausalLM model, long[] ids, int window, int batchSize, ProgressListener progress) {
        if (window < 1 || batchSize < 1) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "window and batch size must be positive, found " + window + " and " + batchSize);
        }
        int windows = ids.length > window ? (ids.length - window - 1) / window + 1 : 0;
        if (windows == 0) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "the text has " + ids.length + " tokens; at least " + (window + 1)
                    + " are needed for one window of " + window);
        }
        double nll = 0;
        long scored = 0;
        long forwardNanos = 0;
        progress.begin("perplexity", (long) windows * window, "tokens");
        try {
            for (int first = 0; first < windows; first += batchSize) {
                if (progress.isCancelled()) {
                    throw new CancellationException("perplexity evaluation cancelled");
                }
                int b = Math.min(batchSize, windows - first);
                long[] x = new long[b * window];
                long[] y = new long[b * window];
                for (int i = 0; i < b; i++) {
                    int s = (first + i) * window;
                    System.arraycopy(ids, s, x, i * window, window);
                    System.arraycopy(ids, s + 1, y, i * window, window);
                }
                try (NDManager batch = model.manager().newSubManager()) {
                    NDArray input = batch.create(x, new Shape(b, window));
                    NDArray target = batch.create(y, new Shape(b, window, 1));
                    long t0 = System.nanoTime();
                    NDArray logits = model.logits(input);
                    NDArray logp = logits.logSoftmax(-1).gather(target, -1);
                    // Per-token values summed in double: the float sum of 10⁵ terms would lose digits.
                    float[] lp = logp.toFloatArray();
                    forwardNanos += System.nanoTime() - t0;
                    for (float v : lp) {
                        nll -= v;
                    }
                }
                scored += (long) b * window;
                progress.advance((long) b * window);
            }
        } finally {
            progress.end();
        }
        return new Result(Math.exp(nll / scored), nll, scored, windows, forwardNanos / 1e9);
    }
}
