package org.fmsmo.core.plugin;

import java.util.List;
import java.util.Objects;
import org.fmsmo.api.plugin.ProviderKind;

/**
 * One plugin as the registry sees it: who it is, where it came from, what it provides, and
 * whether it is in use.
 *
 * @param id        plugin id from the descriptor, or the jar/folder name when there is no descriptor
 * @param version   plugin version, or {@code ?} when unknown
 * @param requires  the SPI range it declares, or {@code ?}
 * @param source    how it was found
 * @param location  jar, folder or bundle
 * @param status    {@link Status#ACTIVE} or {@link Status#SKIPPED}
 * @param reason    empty when active; why it was skipped otherwise
 * @param provides  the names it provides (for skipped plugins: those it would have provided, when known)
 */
public record PluginInfo(String id, String version, String requires, PluginSource source, String location,
                         Status status, String reason, List<Provided> provides) {

    /** Whether a plugin is in use. */
    public enum Status {
        /** Loaded; its providers are registered. */
        ACTIVE,
        /** Not used; {@link PluginInfo#reason()} says why. */
        SKIPPED
    }

    /**
     * One provider of a plugin.
     *
     * @param kind the extension point
     * @param name the provider's name
     */
    public record Provided(ProviderKind kind, String name) {
    }

    /** Validates and copies. */
    public PluginInfo {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(requires, "requires");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(location, "location");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(reason, "reason");
        provides = List.copyOf(provides);
    }

    /** The distinct kinds it provides, in {@link ProviderKind} order. */
    public List<ProviderKind> kinds() {
        return provides.stream().map(Provided::kind).distinct().sorted().toList();
    }

    /** This plugin marked skipped for {@code why}. */
    public PluginInfo skipped(String why) {
        return new PluginInfo(id, version, requires, source, location, Status.SKIPPED, why, provides);
    }
}
