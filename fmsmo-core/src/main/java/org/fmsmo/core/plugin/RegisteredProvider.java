package org.fmsmo.core.plugin;

import java.util.Objects;
import org.fmsmo.api.plugin.NamedProvider;
import org.fmsmo.api.plugin.ProviderKind;

/**
 * A provider in the registry with the plugin it came from.
 *
 * @param kind     its extension point
 * @param provider the instance
 * @param plugin   where it came from
 * @param <P>      the provider type
 */
public record RegisteredProvider<P extends NamedProvider>(ProviderKind kind, P provider, PluginInfo plugin) {

    /** Validates. */
    public RegisteredProvider {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(provider, "provider");
        Objects.requireNonNull(plugin, "plugin");
    }

    /** The provider's name. */
    public String name() {
        return provider.name();
    }
}
