package org.fmsmo.api.export;

import org.fmsmo.api.Experimental;
import org.fmsmo.api.plugin.NamedProvider;

/**
 * Creates an {@link ExportFormat}. The name is what users pass to {@code fmsmo export --format};
 * the format's {@link ExportFormat#extension()} finds the reader of a file ({@code fmsmo eval
 * --model model.gguf}). Options are the provider's {@link #configKeys()}, set with {@code --set}.
 */
@Experimental(since = "1.5")
public interface ExportFormatProvider extends NamedProvider {

    /** A new exporter; cheap. */
    ExportFormat create();
}
