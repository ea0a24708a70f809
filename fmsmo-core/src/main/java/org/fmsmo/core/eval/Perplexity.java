package org.fmsmo.core.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.calibration.HiddenStates;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Module;

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
        int windows = windowCount(ids, window, batchSize);
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
                try (NDManager batch = model.manager().newSubManager()) {
                    NDArray input = batch.create(slice(ids, first, b, window, 0), new Shape(b, window));
                    long t0 = System.nanoTime();
                    double batchNll = nll(model.logits(input), slice(ids, first, b, window, 1));
                    if (!Double.isFinite(batchNll)) {
                        throw nonFinite(firstNonFinite(model, input));
                    }
                    nll += batchNll;
                    forwardNanos += System.nanoTime() - t0;
                }
                scored += (long) b * window;
                progress.advance((long) b * window);
            }
        } finally {
            progress.end();
        }
        return new Result(Math.exp(nll / scored), nll, scored, windows, forwardNanos / 1e9);
    }

    /**
     * The same perplexity of a model opened block by block, for models that do not fit in memory:
     * every window goes through block 0, then all of them through block 1, and so on (one block
     * materialised at a time, the hidden states beyond {@code offload}'s budget in files), then
     * through the head batch by batch. Each batch meets the same operations as in
     * {@link #evaluate(CausalLM, long[], int, int, ProgressListener)}, so the numbers are equal.
     * The time counts the blocks' loading too.
     */
    public static Result evaluate(StreamedModel model, long[] ids, int window, int batchSize, HiddenStates.Offload offload,
                                  ProgressListener progress) {
        CalibrationData data = windows(ids, window, batchSize);
        long t0 = System.nanoTime();
        double nll;
        progress.begin("perplexity (streamed)", model.numBlocks() + 1L, "blocks");
        try (NDManager root = NDManager.newBaseManager(); HiddenStates states = HiddenStates.embed(data, root, model::blockInput, offload)) {
            for (int i = 0; i < model.numBlocks(); i++) {
                if (progress.isCancelled()) {
                    throw new CancellationException("perplexity evaluation cancelled before block " + i);
                }
                progress.item("block " + (i + 1) + "/" + model.numBlocks());
                try (NDManager m = root.newSubManager()) {
                    advance(model, model.loadBlock(i, m), i, states);
                }
                progress.advance(1);
            }
            progress.item("head");
            nll = headNll(model, states, ids, window, root);
            progress.advance(1);
        } finally {
            progress.end();
        }
        long scored = (long) data.size() * window;
        return new Result(Math.exp(nll / scored), nll, scored, data.size(), (System.nanoTime() - t0) / 1e9);
    }

    /**
     * The text's whole windows as batches of token ids ({@code window} tokens each, the last
     * targets excluded), for {@link HiddenStates}; {@code size()} is the number of windows.
     */
    public static CalibrationData windows(long[] ids, int window, int batchSize) {
        int windows = windowCount(ids, window, batchSize);
        List<long[]> inputs = new ArrayList<>();
        for (int k = 0; k < windows; k++) {
            inputs.add(slice(ids, k, 1, window, 0));
        }
        return new CalibrationData(inputs, batchSize);
    }

    /** Moves every window's hidden state through block {@code index}, failing on the first non-finite output. */
    public static void advance(StreamedModel model, Module block, int index, HiddenStates states) {
        String path = model.blockPath(index);
        states.advance(s -> {
            NDArray out = model.runBlock(block, s.hidden(), s.mask());
            if (!finite(out)) {
                throw nonFinite(path);
            }
            return out;
        });
    }

    /** −Σ log p(target) of the windows {@link #windows} made, from their hidden states after the last block, through the final norm and head. */
    public static double headNll(StreamedModel model, HiddenStates states, long[] ids, int window, NDManager parent) {
        return score(model, states, null, ids, window, parent)[0];
    }

    /**
     * Scores the windows {@link #windows} made twice at once, from two models' hidden states after
     * the last block: the NLL of {@code states} ({@code [0]}) and the summed KL divergence
     * {@code Σ_tokens Σ_v p_ref(v) (log p_ref(v) − log p(v))} of its next-token distributions from
     * those of {@code reference} ({@code [1]}), in nats. KL is never negative and grows with the
     * square of a small perturbation, so it ranks small changes where the NLL's difference is noise.
     */
    public static double[] headNllAndKl(StreamedModel model, HiddenStates states, HiddenStates reference, long[] ids, int window,
                                        NDManager parent) {
        return score(model, states, java.util.Objects.requireNonNull(reference, "reference"), ids, window, parent);
    }

    /** The head run batch by batch on {@code states}: {NLL, KL from {@code reference}'s distributions (0 without one)}. */
    private static double[] score(StreamedModel model, HiddenStates states, HiddenStates reference, long[] ids, int window, NDManager parent) {
        try (NDManager m = parent.newSubManager()) {
            Module head = model.loadHead(m);
            double[] sum = {0, 0};
            int[] k = {0};
            java.util.function.BiConsumer<HiddenStates.Batch, HiddenStates.Batch> batch = (s, r) -> {
                int b = Math.toIntExact(s.hidden().getShape().get(0));
                NDArray logits = model.runHead(head, s.hidden());
                double batchNll = nll(logits, slice(ids, k[0], b, window, 1));
                double kl = 0;
                if (r != null) {
                    NDArray lq = logits.logSoftmax(-1);
                    NDArray lp = model.runHead(head, r.hidden()).logSoftmax(-1);
                    for (float v : lp.exp().mul(lp.sub(lq)).sum(new int[] {-1}).toFloatArray()) { // per token, summed in double
                        kl += v;
                    }
                }
                if (!Double.isFinite(batchNll) || !Double.isFinite(kl)) {
                    throw nonFinite("the final norm and head");
                }
                sum[0] += batchNll;
                sum[1] += kl;
                k[0] += b;
            };
            if (reference == null) {
                states.forEach(s -> batch.accept(s, null));
            } else {
                states.forEachWith(reference, batch);
            }
            return sum;
        }
    }

    /**
     * Where a batch whose NLL is not finite first goes wrong: the embeddings, the first block whose
     * output holds NaN or ±Inf, or else the head. Run again block by block, on the failing batch only.
     */
    private static String firstNonFinite(CausalLM model, NDArray input) {
        TransformerModel.BlockInput in = model.blockInput(input, null);
        NDArray h = in.hidden();
        if (!finite(h)) {
            return "the embeddings";
        }
        for (int i = 0; i < model.blocks().size(); i++) {
            h = model.runBlock(i, h, in.mask());
            if (!finite(h)) {
                return model.blocks().get(i).path();
            }
        }
        return "the final norm and head";
    }

    private static boolean finite(NDArray x) {
        return !x.isNaN().logicalOr(x.isInfinite()).any().getBoolean();
    }

    /** A perplexity of NaN or ∞ is not a result: the model's weights or config are broken somewhere. */
    private static FmsmoException nonFinite(String where) {
        return new FmsmoException(ErrorCode.CORRUPT_INPUT, "the model's output is not finite, so there is no perplexity: the first NaN or"
                + " infinite values come out of " + where + " (its weights hold NaN or Inf, or its values overflow)");
    }

    /** Number of whole windows of the text, checking the arguments. */
    private static int windowCount(long[] ids, int window, int batchSize) {
        if (window < 1 || batchSize < 1) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "window and batch size must be positive, found " + window + " and " + batchSize);
        }
        int windows = ids.length > window ? (ids.length - window - 1) / window + 1 : 0;
        if (windows == 0) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "the text has " + ids.length + " tokens; at least " + (window + 1)
                    + " are needed for one window of " + window);
        }
        return windows;
    }

    /** Windows {@code first .. first + count} of {@code ids}, each shifted by {@code shift} (1: the targets), concatenated. */
    private static long[] slice(long[] ids, int first, int count, int window, int shift) {
        long[] out = new long[count * window];
        for (int i = 0; i < count; i++) {
            System.arraycopy(ids, (first + i) * window + shift, out, i * window, window);
        }
        return out;
    }

    /** −Σ log p(target) over a batch's logits {@code [B, T, vocab]}, in the logits' manager. */
    private static double nll(NDArray logits, long[] targets) {
        long[] shape = logits.getShape().getShape();
        NDArray target = logits.getManager().create(targets, new Shape(shape[0], shape[1], 1));
        // Per-token values summed in double: the float sum of 10⁵ terms would lose digits.
        float[] lp = logits.logSoftmax(-1).gather(target, -1).toFloatArray();
        double nll = 0;
        for (float v : lp) {
            nll -= v;
        }
        return nll;
    }
}
