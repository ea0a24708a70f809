package org.fmsmo.api;

import java.util.Objects;

/**
 * The one unchecked exception family of fmsmo. Its message says what was expected, what was
 * found, and where (file, tensor, layer, plugin); its {@link #code()} says what kind of failure
 * it is.
 */
@Stable(since = "1.0")
public class FmsmoException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;

    /**
     * @param code    the kind of failure; not null
     * @param message expected / found / where; not null
     */
    public FmsmoException(ErrorCode code, String message) {
        super(Objects.requireNonNull(message, "message"));
        this.code = Objects.requireNonNull(code, "code");
    }

    /**
     * @param code    the kind of failure; not null
     * @param message expected / found / where; not null
     * @param cause   the underlying exception; may be null
     */
    public FmsmoException(ErrorCode code, String message, Throwable cause) {
        super(Objects.requireNonNull(message, "message"), cause);
        this.code = Objects.requireNonNull(code, "code");
    }

    /** The kind of failure; never null. */
    public ErrorCode code() {
        return code;
    }
}
