package org.fmsmo.api.export;

import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import org.fmsmo.api.Experimental;

/**
 * A one-file model format for a runtime outside the Hugging Face world (GGUF for llama.cpp, an
 * ONNX graph): writes a loaded, possibly quantized model, and reads such a file back. Unlike a
 * {@link org.fmsmo.api.format.CheckpointFormat}, which lays out tensors in a Hugging Face folder
 * the host writes, an export format owns its whole file; the host only opens it and commits it
 * atomically. Not thread-safe.
 */
@Experimental(since = "1.5")
public interface ExportFormat {

    /** The file name extension, without the dot ({@code gguf}): what names the files it writes and finds their reader. */
    String extension();

    /**
     * Whether the export is a folder rather than one file: the host writes the format's file as
     * {@code model.<extension>} inside it, with the model folder's tokenizer, config and pooling
     * files beside it, so that the folder is usable on its own (an ONNX graph and its tokenizer).
     */
    default boolean writesFolder() {
        return false;
    }

    /**
     * Checks, before the model's weights are loaded, what can be checked without them:
     * architecture, configuration, options, tokenizer. The host calls it first, so that a model the
     * format cannot hold is refused at once rather than after minutes of loading (or running out of
     * memory); {@link #check} follows with the loaded model. Checks nothing by default.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} naming
     *         what the format cannot hold and what it expects
     */
    default void checkBeforeLoading(ExportModel model) {
    }

    /**
     * Checks, before anything is written, that {@code model} can be exported with its options:
     * architecture, shapes, tokenizer.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} naming
     *         what the format cannot hold and what it expects
     */
    void check(ExportSource model);

    /**
     * Writes {@code model} to {@code out}, from its first byte to its last, in one pass.
     *
     * @throws org.fmsmo.api.FmsmoException as {@link #check}, or {@link org.fmsmo.api.ErrorCode#IO_ERROR}
     */
    void write(ExportSource model, WritableByteChannel out);

    /**
     * Reads a file this format wrote (or another tool wrote in it) back as the Hugging Face model
     * it stands for, every quantized tensor dequantized, so that the host can evaluate it.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#CORRUPT_INPUT} naming
     *         what is malformed and where; {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} for what
     *         it cannot turn back into a Hugging Face model
     */
    default ImportedModel read(Path file) {
        throw new UnsupportedOperationException(getClass().getName() + " does not read its files back");
    }
}
