package org.fmsmo.core.cli;

import java.nio.file.Path;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.plugin.PluginRegistry;
import picocli.CommandLine.Option;

/**
 * Options every command that uses plugins shares: where the plugins directory is, and whether a
 * broken plugin is fatal.
 */
final class PluginOptions {

    /** System property the launcher sets to the distribution folder. */
    static final String HOME_PROPERTY = "fmsmo.home";

    @Option(names = "--plugins-dir", paramLabel = "DIR",
            description = "Plugins directory (default: $FMSMO_HOME/plugins when run from the distribution).")
    Path pluginsDir;

    @Option(names = "--strict", description = "Fail (exit status 3) when any plugin had to be skipped.")
    boolean strict;

    /** The plugins directory in effect, if any. */
    Optional<Path> pluginsDir() {
        if (pluginsDir != null) {
            return Optional.of(pluginsDir.toAbsolutePath().normalize());
        }
        String home = System.getProperty(HOME_PROPERTY);
        return home == null ? Optional.empty() : Optional.of(Path.of(home, "plugins").toAbsolutePath().normalize());
    }

    /** The registry over the application and the plugins directory. */
    PluginRegistry openRegistry() {
        if (pluginsDir != null && !java.nio.file.Files.isDirectory(pluginsDir)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--plugins-dir " + pluginsDir + ": expected a folder of plugins, found "
                    + (java.nio.file.Files.exists(pluginsDir) ? "a file" : "nothing there"));
        }
        return PluginRegistry.standard(pluginsDir().orElse(null));
    }

    /** With {@code --strict}, fails when the registry skipped anything. */
    void checkStrict(PluginRegistry registry) {
        if (strict) {
            registry.requireNoProblems();
        }
    }
}
