package org.fmsmo.api.plugin;

import org.fmsmo.api.Experimental;
import org.fmsmo.api.Stable;

/**
 * What every provider kind has in common: a cheap factory with a unique name. Providers are found
 * by {@link java.util.ServiceLoader} (module path, class path, a plugins directory) or through the
 * OSGi service registry, so they need a public no-argument constructor that does no heavy work:
 * nothing native is loaded and no file is read before the kind's {@code create} method is called.
 *
 * <p>Implementations must be thread-safe: one instance serves the whole process.
 */
@Stable(since = "1.0")
public interface NamedProvider {

    /**
     * The name users select this provider by ({@code rtn}, {@code cpu-reference}, {@code maxperCh}):
     * letters (matched case-sensitively), digits, {@code -}, {@code _}, {@code +} and {@code .}; unique per kind across all
     * installed plugins. Never null.
     */
    String name();

    /** One line for listings ({@code fmsmo plugins}); never null, may be empty. */
    default String description() {
        return "";
    }

    /**
     * The quantization-config keys this provider reads beyond the host's own ({@code nbits_w},
     * {@code qa_mode} …): recipes, {@code --set} and {@code fmsmo recipes --keys} accept and check
     * them as they do the host's. Cheap; never null.
     */
    @Experimental(since = "1.3")
    default java.util.List<ConfigKeySpec> configKeys() {
        return java.util.List.of();
    }
}
