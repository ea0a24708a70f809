package org.fmsmo.api.format;

import org.fmsmo.api.Experimental;
import org.fmsmo.api.plugin.NamedProvider;

/**
 * Creates a {@link CheckpointFormat}. The name is what users pass to {@code --format}, what the host
 * records in the folders it writes, and what finds the reader of a folder another tool wrote (its
 * {@code quantization_config.quant_method}): a format for Hugging Face checkpoints is named after
 * the {@code quant_method} it reads.
 */
@Experimental(since = "1.0")
public interface CheckpointFormatProvider extends NamedProvider {

    /** A new writer; cheap. */
    CheckpointFormat create();
}
