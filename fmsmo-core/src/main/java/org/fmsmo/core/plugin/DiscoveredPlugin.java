package org.fmsmo.core.plugin;

import java.util.List;
import java.util.Objects;
import org.fmsmo.api.plugin.NamedProvider;
import org.fmsmo.api.plugin.ProviderKind;

/**
 * What a {@link PluginDiscovery} found for one plugin: its identity and, when it could be loaded,
 * its provider instances. A skipped plugin carries no instances and its reason.
 *
 * @param info      identity, source, status
 * @param providers instances, empty for skipped plugins
 */
public record DiscoveredPlugin(PluginInfo info, List<Instance> providers) {

    /**
     * One provider instance.
     *
     * @param kind     its extension point
     * @param provider the instance
     */
    public record Instance(ProviderKind kind, NamedProvider provider) {
    }

    /** Copies. */
    public DiscoveredPlugin {
        Objects.requireNonNull(info, "info");
        providers = List.copyOf(providers);
    }

    /** A plugin that was found but not loaded. */
    public static DiscoveredPlugin skipped(PluginInfo info) {
        return new DiscoveredPlugin(info, List.of());
    }
}
