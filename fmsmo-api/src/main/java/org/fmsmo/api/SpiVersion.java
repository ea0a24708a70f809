package org.fmsmo.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The version of the SPI this {@code fmsmo-api} jar provides. Plugins declare the range they
 * need ({@code Plugin-Requires}, see {@link org.fmsmo.api.plugin.PluginDescriptor}); hosts refuse
 * plugins whose range does not contain {@link #current()} before any plugin code runs.
 *
 * <p>Versioning rule: a new major version removes or changes a {@link Stable} element; a new minor
 * version adds elements or changes {@link Experimental} ones.
 */
@Stable(since = "1.0")
public final class SpiVersion {

    private static final Version CURRENT = load();

    private SpiVersion() {
    }

    /** The SPI version of the running {@code fmsmo-api}; never null. */
    public static Version current() {
        return CURRENT;
    }

    private static Version load() {
        // Written by the build from the parent POM's fmsmo.spi.version, so the number lives in one place.
        try (InputStream in = SpiVersion.class.getResourceAsStream("spi-version.properties")) {
            if (in == null) {
                throw new IllegalStateException("org/fmsmo/api/spi-version.properties is missing from fmsmo-api");
            }
            Properties p = new Properties();
            p.load(in);
            return Version.parse(p.getProperty("spi.version"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
