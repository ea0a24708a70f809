package org.fmsmo.core.hf;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.TextFiles;

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
        return openFile(file);
    }

    /**
     * Loads a {@code tokenizer.json} file by its path. The file is first read through in Java
     * ({@link TokenizerJsonCheck}): the native library aborts the whole process on some malformed
     * files (a panic across the JNI boundary, exit 134), so those never reach it.
     */
    public static HfTokenizer openFile(Path file) {
        TokenizerJsonCheck.check(file);
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
        try {
            Encoding e = tokenizer.encode(text, addSpecialTokens, false);
            return e.getIds();
        } catch (RuntimeException e) {
            // A tokenizer.json that loads can still be unusable (found by fuzzing: a WordLevel model
            // whose unk_token is not in its vocabulary); the library reports it as a bare RuntimeException.
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": the tokenizer cannot encode text: " + e.getMessage(), e);
        }
    }

    /**
     * Token ids of a UTF-8 text file, encoded in pieces of {@value #PIECE_CHARS} characters cut
     * at line breaks ({@link TextFiles#forEachPiece}), so that the tokenizer's memory is bounded
     * whatever the file's lines, and read only until {@code maxTokens} ids are there (a few more
     * may come with the last piece). A file of one piece is encoded exactly as {@link #encode}
     * would; at a cut between pieces the ids may differ from encoding the whole text in one call
     * as they would at any line break the tokenizer does not merge across.
     *
     * @param what             how errors name the file ({@code "calibration file"})
     * @param addSpecialTokens whether the special tokens (BOS) are added, once, before the text
     */
    public long[] encodeFile(Path text, String what, boolean addSpecialTokens, long maxTokens) {
        long[][] ids = {new long[1024]};
        int[] size = {0};
        TextFiles.forEachPiece(text, what, PIECE_CHARS, piece -> {
            long[] more = encode(piece, addSpecialTokens && size[0] == 0);
            if (size[0] + more.length > ids[0].length) {
                ids[0] = Arrays.copyOf(ids[0], (int) Math.min(Integer.MAX_VALUE - 8, Math.max(size[0] + (long) more.length, 2L * ids[0].length)));
            }
            System.arraycopy(more, 0, ids[0], size[0], more.length);
            size[0] += more.length;
            return size[0] < maxTokens;
        });
        return Arrays.copyOf(ids[0], size[0]);
    }

    /** Characters encoded at a time by {@link #encodeFile}: the fixtures' texts are one piece; the tokenizer needs ~170 bytes per character of a piece. */
    public static final int PIECE_CHARS = 1 << 20;

    /** The text of some ids (special tokens skipped). */
    public String decode(long[] ids) {
        try {
            return tokenizer.decode(ids, true);
        } catch (RuntimeException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": the tokenizer cannot decode ids: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
