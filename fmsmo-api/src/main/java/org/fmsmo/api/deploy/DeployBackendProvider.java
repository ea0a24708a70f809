package org.fmsmo.api.deploy;

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
}
