package org.fmsmo.core.plugin;

import java.util.Objects;

/**
 * Something wrong with an installed plugin, reported as data: the host keeps working without it,
 * and {@code --strict} turns any {@link Severity#ERROR} into a failure.
 *
 * @param severity how bad; not null
 * @param message  what was expected and what was found; not null
 * @param location the jar, folder or bundle; not null
 */
public record PluginProblem(Severity severity, String message, String location) {

    /** How bad a problem is. */
    public enum Severity {
        /** The plugin works, but something is off (it provides nothing, say). */
        WARNING,
        /** The plugin, or part of it, was skipped. */
        ERROR
    }

    /** Validates. */
    public PluginProblem {
        Objects.requireNonNull(severity, "severity");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(location, "location");
    }

    @Override
    public String toString() {
        return severity + ": " + message + " [" + location + "]";
    }
}
