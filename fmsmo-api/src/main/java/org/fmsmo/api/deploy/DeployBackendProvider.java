package org.fmsmo.api.deploy;

import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.Stable;
import org.fmsmo.api.plugin.NamedProvider;

/**
 * Creates a {@link DeployBackend}. {@link #availability()} must stay cheap and must not load native
 * code into the process (checking that a library file exists is fine); native code loads in
 * {@link #create()}, and a failure there becomes an exception, never a crash of the host.
 */
@Stable(since = "1.0")
public interface DeployBackendProvider extends NamedProvider {

    /** Whether the backend can run on this machine, and if not why; never throws. */
    Availability availability();

    /**
     * Starts the backend.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#BACKEND_UNAVAILABLE} with the reason
     */
    DeployBackend create();

    /**
     * The options {@link #create(Map)} accepts, name to meaning ({@code max_acc_bits} → "accumulator
     * width in bits …"); empty when the backend has none.
     */
    @Experimental(since = "1.0")
    default Map<String, String> options() {
        return Map.of();
    }

    /**
     * Starts the backend with options ({@code fmsmo eval --backend-option KEY=VALUE}).
     *
     * @param options names from {@link #options()} to values; not null
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#INVALID_ARGUMENT} for an
     *         unknown option or a bad value, naming what is accepted
     */
    @Experimental(since = "1.0")
    default DeployBackend create(Map<String, String> options) {
        if (!options.isEmpty()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "backend " + name() + " takes no options; got " + options.keySet());
        }
        return create();
    }
}
