package org.fmsmo.api.deploy;

import java.util.Objects;
import org.fmsmo.api.Stable;

/**
 * Whether a backend can run here, and if not, why ("no CUDA driver: libcuda.so.1 not found").
 *
 * @param available whether {@link DeployBackendProvider#create()} will succeed
 * @param reason    empty when available; otherwise what is missing, for people; not null
 */
@Stable(since = "1.0")
public record Availability(boolean available, String reason) {

    /** Validates: an unavailable backend must say why. */
    public Availability {
        Objects.requireNonNull(reason, "reason");
        if (!available && reason.isBlank()) {
            throw new IllegalArgumentException("an unavailable backend must give a reason");
        }
    }

    /** The backend can run. */
    public static Availability yes() {
        return new Availability(true, "");
    }

    /** The backend cannot run, because of {@code reason}. */
    public static Availability no(String reason) {
        return new Availability(false, reason);
    }
}
