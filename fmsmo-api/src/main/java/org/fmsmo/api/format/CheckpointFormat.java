package org.fmsmo.api.format;

import java.nio.file.Path;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.model.QuantizableModel;

/**
 * Writes a quantized model as a checkpoint folder that other tools load (compressed-tensors,
 * GPTQ, GGUF). Not thread-safe.
 */
@Experimental(since = "1.0")
public interface CheckpointFormat {

    /**
     * Whether every frozen layer of {@code model} can be expressed in this format; when false,
     * {@link #write} throws an error naming the first layer that cannot.
     */
    boolean canWrite(QuantizableModel model);

    /**
     * Writes {@code model} to {@code outputDir} atomically: into a temporary sibling folder that
     * is renamed when complete, so an interrupted write never leaves a folder that looks whole.
     *
     * @param model     with its quantized layers frozen
     * @param outputDir must not exist yet or be an empty folder; never the model's input folder
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} or
     *         {@link org.fmsmo.api.ErrorCode#IO_ERROR}
     */
    void write(QuantizableModel model, Path outputDir);
}
