package org.fmsmo.api.format;

import org.fmsmo.api.Experimental;
import org.fmsmo.api.plugin.NamedProvider;

/** Creates a {@link CheckpointFormat}; the name is what users pass to {@code --format}. */
@Experimental(since = "1.0")
public interface CheckpointFormatProvider extends NamedProvider {

    /** A new writer; cheap. */
    CheckpointFormat create();
}
