package org.fmsmo.api.plugin;

import java.util.Objects;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import java.util.regex.Pattern;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.Stable;
import org.fmsmo.api.Version;
import org.fmsmo.api.VersionRange;

/**
 * Who a plugin is and which SPI it needs, read from its jar's {@code META-INF/MANIFEST.MF} before
 * any of its code runs. The same headers serve all three ways in: fmsmo's own loader, PF4J (which
 * reads {@code Plugin-Id}, {@code Plugin-Version}, {@code Plugin-Requires} itself) and OSGi (next to
 * the {@code Bundle-*} headers bnd writes).
 *
 * <pre>
 * Plugin-Id: stochastic-rtn
 * Plugin-Version: 1.2.0
 * Plugin-Requires: &gt;=1.0.0 &amp; &lt;2.0.0
 * Plugin-Description: RTN with stochastic rounding
 * Plugin-Provider: Example Corp
 * </pre>
 *
 * @param id          unique plugin id: lower case letters, digits, {@code -}, {@code _}, {@code .}
 * @param version     the plugin's own version
 * @param requires    the SPI versions the plugin works with
 * @param description one line, may be empty
 * @param provider    who made it, may be empty
 */
@Stable(since = "1.0")
public record PluginDescriptor(String id, Version version, VersionRange requires, String description, String provider) {

    /** Manifest header holding {@link #id()}. */
    public static final String ID = "Plugin-Id";
    /** Manifest header holding {@link #version()}. */
    public static final String VERSION = "Plugin-Version";
    /** Manifest header holding {@link #requires()}. */
    public static final String REQUIRES = "Plugin-Requires";
    /** Manifest header holding {@link #description()}. */
    public static final String DESCRIPTION = "Plugin-Description";
    /** Manifest header holding {@link #provider()}. */
    public static final String PROVIDER = "Plugin-Provider";

    private static final Pattern ID_PATTERN = Pattern.compile("[a-z0-9][a-z0-9._-]*");

    /** Validates the fields; {@code description} and {@code provider} may be null (read as empty). */
    public PluginDescriptor {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(requires, "requires");
        if (!ID_PATTERN.matcher(id).matches()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT,
                    "plugin id must match " + ID_PATTERN + ", found '" + id + "'");
        }
        description = description == null ? "" : description;
        provider = provider == null ? "" : provider;
    }

    /**
     * Reads the descriptor headers of a manifest.
     *
     * @param manifest the jar's manifest; not null
     * @param where    the jar or folder, for messages; not null
     * @throws FmsmoException {@link ErrorCode#PLUGIN_LOAD_FAILED} naming {@code where} and the
     *                        missing or malformed header
     */
    public static PluginDescriptor fromManifest(Manifest manifest, String where) {
        Attributes a = manifest.getMainAttributes();
        String id = required(a, ID, where);
        try {
            return new PluginDescriptor(id,
                    Version.parse(required(a, VERSION, where)),
                    VersionRange.parse(required(a, REQUIRES, where)),
                    a.getValue(DESCRIPTION), a.getValue(PROVIDER));
        } catch (FmsmoException e) {
            throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED,
                    "invalid plugin descriptor in " + where + ": " + e.getMessage(), e);
        }
    }

    private static String required(Attributes a, String header, String where) {
        String value = a.getValue(header);
        if (value == null || value.isBlank()) {
            throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED,
                    "no plugin descriptor in " + where + ": expected a '" + header
                            + "' header in META-INF/MANIFEST.MF (with " + ID + ", " + VERSION + ", " + REQUIRES + ")");
        }
        return value.trim();
    }
}
