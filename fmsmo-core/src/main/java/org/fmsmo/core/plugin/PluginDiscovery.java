package org.fmsmo.core.plugin;

import java.util.List;

/**
 * One way plugins reach the registry (application module layer, plugins directory, OSGi). A
 * discovery never throws for a bad plugin: it reports it as a skipped {@link DiscoveredPlugin}.
 */
public interface PluginDiscovery extends AutoCloseable {

    /** Finds and loads the plugins, in a stable order. Called once. */
    List<DiscoveredPlugin> discover();

    /** Releases what loading took (PF4J plugins are stopped and unloaded). Default: nothing. */
    @Override
    default void close() {
    }
}
