package org.fmsmo.api;

/**
 * What went wrong, as a stable code that tools and tests can match on without parsing messages.
 * Each code also fixes the process exit status the CLI uses for it.
 */
@Stable(since = "1.0")
public enum ErrorCode {
    /** A user-supplied value (option, config key, spec field) is not allowed. */
    INVALID_ARGUMENT(2),
    /** A lookup by name (method, quantizer, backend, format, recipe) found nothing. */
    UNKNOWN_NAME(2),
    /** Two providers of the same kind claim the same name. */
    DUPLICATE_NAME(3),
    /** A plugin needs an SPI version this host does not provide. */
    INCOMPATIBLE_SPI(3),
    /** A plugin could not be loaded: missing or invalid descriptor, corrupt jar, failing constructor. */
    PLUGIN_LOAD_FAILED(3),
    /** A component was asked for a {@code QuantSpec} it cannot handle. */
    UNSUPPORTED_SPEC(4),
    /** A deploy backend cannot run on this machine (no driver, no kernels, wrong CPU). */
    BACKEND_UNAVAILABLE(4),
    /** An input file is truncated, malformed or of the wrong type. */
    CORRUPT_INPUT(5),
    /** Reading or writing a file failed. */
    IO_ERROR(5),
    /** A bug in fmsmo or a plugin: an invariant did not hold. */
    INTERNAL(70);

    private final int exitStatus;

    ErrorCode(int exitStatus) {
        this.exitStatus = exitStatus;
    }

    /** The process exit status the CLI uses when a command fails with this code; never 0. */
    public int exitStatus() {
        return exitStatus;
    }
}
