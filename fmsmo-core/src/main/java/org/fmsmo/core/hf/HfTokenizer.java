package org.fmsmo.core.hf;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * A model folder's {@code tokenizer.json}, run by the Hugging Face {@code tokenizers} library
 * (through DJL's binding, offline). Padding and truncation are off: callers decide how to window
 * long texts and how to batch, so that ids are exactly what the tokenizer defines.
 */
public final class HfTokenizer implements AutoCloseable {

    /** The file name inside a model folder. */
    public static final String FILE = "tokenizer.json";

    private final Path file;
    private final HuggingFaceTokenizer tokenizer;

    private HfTokenizer(Path file, HuggingFaceTokenizer tokenizer) {
        this.file = file;
        this.tokenizer = tokenizer;
    }

    /**
     * Loads {@code dir/tokenizer.json}.
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} when the file is missing or the library rejects it
     */
    public static HfTokenizer open(Path dir) {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "no " + FILE + " in " + dir
                    + "; a model folder needs its tokenizer (copy tokenizer.json from the original model)");
        }
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(file,
                    Map.of("padding", "false", "truncation", "false", "addSpecialTokens", "true"));
            return new HfTokenizer(file, t);
        } catch (IOException | RuntimeException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + " could not be loaded as a Hugging Face tokenizer: " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    /**
     * Token ids of one text.
     *
     * @param addSpecialTokens whether the post-processor adds BOS/CLS/SEP as the tokenizer defines
     */
    public long[] encode(String text, boolean addSpecialTokens) {
        Encoding e = tokenizer.encode(text, addSpecialTokens, false);
        return e.getIds();
    }

    /** The text of some ids (special tokens skipped). */
    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
