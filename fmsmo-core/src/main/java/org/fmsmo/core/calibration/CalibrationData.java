package org.fmsmo.core.calibration;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiConsumer;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.io.TextFiles;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.model.TransformerModel;

/**
 * Calibration examples: token sequences run through a model in batches.
 * <ul>
 *   <li>Decoders: the file is tokenized as one text (in pieces cut at line breaks) and cut into consecutive windows of
 *       {@code seqLen} tokens from the start (the first {@code numSamples} of them).</li>
 *   <li>Encoders: each non-empty line is a sample (truncated to {@code seqLen} tokens), the first
 *       {@code numSamples} lines, padded per batch with an attention mask.</li>
 * </ul>
 */
public final class CalibrationData {

    private final List<long[]> samples;
    private final int batchSize;

    /** @param samples token ids per sample; @param batchSize samples per forward pass */
    public CalibrationData(List<long[]> samples, int batchSize) {
        if (samples.isEmpty()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "calibration data has no samples");
        }
        this.samples = List.copyOf(samples);
        this.batchSize = Math.max(1, batchSize);
    }

    /** SHA-256 of the token ids and the batch size, in hex: equal for equal examples (a resumed run checks it). */
    public String digest() {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8);
            md.update(b.putLong(0, batchSize).array());
            for (long[] s : samples) {
                md.update(b.putLong(0, -s.length).array()); // a length before each sample: [1 2][3] differs from [1][2 3]
                for (long id : s) {
                    md.update(b.putLong(0, id).array());
                }
            }
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads and tokenizes a calibration text for {@code model} (see the class comment). */
    public static CalibrationData fromText(TransformerModel model, Path file, int numSamples, int seqLen, int batchSize) {
        return fromText(model, file, numSamples, seqLen, batchSize, null);
    }

    /**
     * As {@link #fromText(TransformerModel, Path, int, int, int)}; with a {@code shuffleSeed}, a
     * decoder's windows start at random token positions (reproducible for the seed) instead of
     * consecutively from the start, and an encoder's lines are drawn at random.
     */
    public static CalibrationData fromText(TransformerModel model, Path file, int numSamples, int seqLen, int batchSize, Long shuffleSeed) {
        return fromText(model.tokenizer(), model.task() == org.fmsmo.api.arch.ArchitectureSpec.Task.SENTENCE_ENCODER, file, numSamples, seqLen, batchSize, shuffleSeed);
    }

    /**
     * As {@link #fromText(TransformerModel, Path, int, int, int, Long)}, for a model that is not
     * loaded (streamed). The file is read and tokenized in pieces ({@link HfTokenizer#encodeFile})
     * and only as far as the samples need: the first
     * {@code numSamples × seqLen} tokens, or with a shuffle seed {@value #SHUFFLE_POOL} times as
     * many to draw the windows from (lines, for an encoder). So a calibration file of any size,
     * even one line of many megabytes, takes bounded memory and time.
     */
    public static CalibrationData fromText(HfTokenizer tok, boolean encoder, Path file, int numSamples, int seqLen, int batchSize,
                                           Long shuffleSeed) {
        List<long[]> samples = new ArrayList<>();
        java.util.Random random = shuffleSeed == null ? null : new java.util.Random(shuffleSeed);
        long pool = (long) numSamples * (random == null ? 1 : SHUFFLE_POOL);
        long[] found = {0}; // what the file gave: characters of lines (encoder) or tokens
        if (encoder) {
            List<String> lines = new ArrayList<>();
            // A token is rarely over 64 characters: the part of a line beyond seqLen of them is cut away unread.
            int[] nonBlank = {0};
            forEachLine(file, (int) Math.min(Integer.MAX_VALUE / 2, 64L * seqLen), line -> {
                found[0] += line.length();
                lines.add(line);
                nonBlank[0] += line.isBlank() ? 0 : 1;
                return nonBlank[0] < pool;
            });
            if (random != null) {
                java.util.Collections.shuffle(lines, random);
            }
            for (String line : lines) {
                if (!line.isBlank() && samples.size() < numSamples) {
                    long[] ids = tok.encode(line.strip(), true);
                    samples.add(Arrays.copyOf(ids, Math.min(ids.length, seqLen)));
                }
            }
        } else {
            long[] all = tok.encodeFile(file, "calibration file", true, pool > Long.MAX_VALUE / seqLen ? Long.MAX_VALUE : pool * seqLen);
            found[0] = all.length;
            for (int k = 0; random != null && all.length >= seqLen && k < numSamples; k++) {
                int start = random.nextInt(all.length - seqLen + 1);
                samples.add(Arrays.copyOfRange(all, start, start + seqLen));
            }
            for (int start = 0; start + seqLen <= all.length && samples.size() < numSamples; start += seqLen) {
                samples.add(Arrays.copyOfRange(all, start, start + seqLen));
            }
        }
        if (samples.isEmpty()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "calibration file " + file + " gives no sample of " + seqLen
                    + " tokens (it has " + found[0] + (encoder ? " characters)" : " tokens)"));
        }
        return new CalibrationData(samples, batchSize);
    }

    /** With a shuffle seed, windows (or lines) are drawn from this many times the samples asked for. */
    static final int SHUFFLE_POOL = 16;

    /** The file's lines in order, each cut to {@code maxChars}, until {@code line} returns false. */
    private static void forEachLine(Path file, int maxChars, java.util.function.Predicate<String> line) {
        StringBuilder current = new StringBuilder();
        boolean[] more = {true};
        TextFiles.forEachPiece(file, "calibration file", HfTokenizer.PIECE_CHARS, piece -> {
            int from = 0;
            while (more[0] && from < piece.length()) {
                int nl = piece.indexOf('\n', from);
                int to = nl < 0 ? piece.length() : nl;
                current.append(piece, from, Math.min(to, from + Math.max(0, maxChars - current.length())));
                if (nl < 0) {
                    break;
                }
                more[0] = line.test(current.toString());
                current.setLength(0);
                from = nl + 1;
            }
            return more[0];
        });
        if (more[0] && !current.isEmpty()) {
            line.test(current.toString());
        }
    }

    /**
     * {@code numSamples} sequences of {@code seqLen} token ids drawn uniformly from {@code [0, vocab)},
     * reproducible for the seed: calibration for a model whose tokenizer does not match any text
     * (synthetic checkpoints), or to measure speed and memory without text.
     */
    public static CalibrationData random(int vocab, int numSamples, int seqLen, int batchSize, long seed) {
        if (numSamples < 1 || seqLen < 1) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "random calibration needs --num-samples and --seq-len of at least 1, found "
                    + numSamples + " and " + seqLen);
        }
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        List<long[]> samples = new ArrayList<>();
        for (int i = 0; i < numSamples; i++) {
            samples.add(r.longs(seqLen, 0, vocab).toArray());
        }
        return new CalibrationData(samples, batchSize);
    }

    /** The longest sample, in tokens. */
    public int maxTokens() {
        return samples.stream().mapToInt(a -> a.length).max().orElse(0);
    }

    /** The first {@code n} batches of these examples (all of them when there are fewer). */
    public CalibrationData firstBatches(int n) {
        long keep = Math.min((long) n * batchSize, samples.size());
        return new CalibrationData(samples.subList(0, (int) keep), batchSize);
    }

    /** The first {@code n} samples of these examples (all of them when there are fewer), batched as these are. */
    public CalibrationData firstSamples(int n) {
        return new CalibrationData(samples.subList(0, Math.min(n, samples.size())), batchSize);
    }

    /** Number of forward passes {@link #run} makes. */
    public int batches() {
        return (samples.size() + batchSize - 1) / batchSize;
    }

    /** Number of samples. */
    public int size() {
        return samples.size();
    }

    /** Runs every batch through the model, discarding the outputs. */
    public void run(TransformerModel model, ProgressListener progress) {
        progress.begin("calibration", batches(), "batches");
        try (NDManager scope = model.manager().newSubManager()) {
            forEachBatch(scope, (ids, mask) -> {
                forward(model, ids, mask).close();
                progress.advance(1);
            });
        } finally {
            progress.end();
        }
    }

    /**
     * Gives each batch as token ids {@code [B, T]} and its attention mask (1 for real tokens; null
     * when no sample of the batch is padded), in a sub-manager of {@code m} that is closed when
     * {@code batch} returns (attach what must outlive it elsewhere).
     */
    public void forEachBatch(NDManager m, BiConsumer<NDArray, NDArray> batch) {
        for (int k = 0; k < batches(); k++) {
            try (NDManager step = m.newSubManager()) {
                Batch b = batch(k, step);
                batch.accept(b.ids(), b.mask());
            }
        }
    }

    /**
     * One batch of samples, padded to its longest.
     *
     * @param ids    {@code [B, T]}
     * @param mask   {@code [B, T]}, 1 for real tokens; null when no sample of the batch is padded
     * @param tokens real tokens in the batch
     */
    public record Batch(NDArray ids, NDArray mask, long tokens) {
    }

    private List<long[]> samplesOf(int k) {
        return samples.subList(k * batchSize, Math.min(samples.size(), (k + 1) * batchSize));
    }

    /** Real (not padding) tokens in batch {@code k}. */
    public long tokens(int k) {
        return samplesOf(k).stream().mapToLong(a -> a.length).sum();
    }

    /** Batch {@code k} (0 ≤ k < {@link #batches()}), created in {@code m}. */
    public Batch batch(int k, NDManager m) {
        List<long[]> b = samplesOf(k);
        int t = b.stream().mapToInt(a -> a.length).max().orElseThrow();
        long[] ids = new long[b.size() * t];
        long[] mask = new long[ids.length];
        long tokens = 0;
        for (int i = 0; i < b.size(); i++) {
            long[] s = b.get(i);
            System.arraycopy(s, 0, ids, i * t, s.length);
            Arrays.fill(mask, i * t, i * t + s.length, 1L);
            tokens += s.length;
        }
        boolean padded = b.stream().anyMatch(a -> a.length < t);
        return new Batch(m.create(ids, new Shape(b.size(), t)), padded ? m.create(mask, new Shape(b.size(), t)) : null, tokens);
    }

    /** @param mask null when no sample is padded */
    private static NDArray forward(TransformerModel model, NDArray ids, NDArray mask) {
        return switch (model) {
            case CausalLM lm -> lm.logits(ids);
            case SentenceEncoder enc -> enc.hiddenStates(ids, mask != null ? mask : ids.onesLike());
            default -> throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cannot calibrate a " + model.architecture());
        };
    }
}
