package org.fmsmo.api.arch;

import java.util.Set;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.plugin.NamedProvider;

/**
 * An architecture: which {@code model_type}s it reads and what their configs describe. The host
 * asks it instead of switching on model classes; the analyzer, calibration, training, evaluation
 * and benchmarks go by the {@link ArchitectureSpec} it returns.
 */
@Experimental(since = "1.4")
public interface ModelArchitectureProvider extends NamedProvider {

    /** The {@code config.json} {@code model_type} values this architecture reads; unique across installed plugins. */
    Set<String> modelTypes();

    /**
     * Reads and checks a config.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} naming the key of a
     *         feature the host cannot run, {@link org.fmsmo.api.ErrorCode#CORRUPT_INPUT} for a malformed value
     */
    ArchitectureSpec describe(ModelConfig config);
}
