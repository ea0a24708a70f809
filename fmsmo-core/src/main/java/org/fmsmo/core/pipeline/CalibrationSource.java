package org.fmsmo.core.pipeline;

import java.nio.file.Path;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.hf.HfTokenizer;

/**
 * Where a run's calibration examples come from: a text file cut into token windows (sentences for
 * encoders), or random token ids for a model whose tokenizer matches no text.
 */
public sealed interface CalibrationSource {

    /** Samples, tokens per sample, samples per forward pass. */
    int numSamples();

    int seqLen();

    int batchSize();

    /**
     * Decoders: consecutive windows of {@code seqLen} tokens (at random positions with a
     * {@code shuffleSeed}); encoders: one sentence per line.
     */
    record Text(Path file, int numSamples, int seqLen, int batchSize, Long shuffleSeed) implements CalibrationSource {
        public Text {
            checkCounts(numSamples, seqLen, batchSize);
        }
    }

    /** Token ids drawn uniformly from the vocabulary, reproducible for the seed. */
    record Random(int numSamples, int seqLen, int batchSize, long seed) implements CalibrationSource {
        public Random {
            checkCounts(numSamples, seqLen, batchSize);
        }
    }

    /** Refused when the source is made, before any model is opened. */
    private static void checkCounts(int numSamples, int seqLen, int batchSize) {
        if (numSamples < 1 || seqLen < 1 || batchSize < 1) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "calibration needs --num-samples, --seq-len and --batch-size of at least 1, found "
                    + numSamples + ", " + seqLen + " and " + batchSize);
        }
    }

    static CalibrationSource text(Path file, int numSamples, int seqLen, int batchSize) {
        return new Text(file, numSamples, seqLen, batchSize, null);
    }

    static CalibrationSource random(int numSamples, int seqLen, int batchSize, long seed) {
        return new Random(numSamples, seqLen, batchSize, seed);
    }

    /** The examples for a model with this vocabulary and tokenizer (opened only for text). */
    default CalibrationData load(int vocab, java.util.function.Supplier<HfTokenizer> tokenizer, boolean encoder) {
        return switch (this) {
            case Text t -> CalibrationData.fromText(tokenizer.get(), encoder, t.file(), t.numSamples(), t.seqLen(), t.batchSize(), t.shuffleSeed());
            case Random r -> CalibrationData.random(vocab, r.numSamples(), r.seqLen(), r.batchSize(), r.seed());
        };
    }
}
