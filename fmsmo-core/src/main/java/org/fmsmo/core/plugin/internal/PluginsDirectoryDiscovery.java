package org.fmsmo.core.plugin.internal;

import java.lang.reflect.Constructor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.NamedProvider;
import org.fmsmo.api.plugin.PluginDescriptor;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.core.plugin.DiscoveredPlugin;
import org.fmsmo.core.plugin.PluginDiscovery;
import org.fmsmo.core.plugin.PluginInfo;
import org.fmsmo.core.plugin.PluginSource;

/**
 * Plugins dropped into a directory ({@code plugins/x.jar} or {@code plugins/<id>/*.jar}), loaded
 * through PF4J one at a time so that each failure is reported against its own path: a corrupt
 * jar, metadata entries too large to be real (read whole by PF4J), a missing descriptor, an SPI range that excludes this host (checked before PF4J creates
 * a class loader), a provider whose constructor throws.
 */
public final class PluginsDirectoryDiscovery implements PluginDiscovery {

    private final Path root;
    private IsolatedPluginManager manager;

    /** @param root the plugins directory; a missing one is treated as empty */
    public PluginsDirectoryDiscovery(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    @Override
    public List<DiscoveredPlugin> discover() {
        manager = new IsolatedPluginManager(root);
        List<DiscoveredPlugin> result = new ArrayList<>();
        for (Path path : IsolatedPluginManager.pluginPaths(root)) {
            result.add(load(path));
        }
        return result;
    }

    private DiscoveredPlugin load(Path path) {
        String location = path.toString();
        PluginDescriptor d;
        try {
            PluginManifests.checkMetadataSizes(path);
            d = PluginManifests.read(IsolatedPluginManager.mainJar(path));
        } catch (FmsmoException e) {
            return DiscoveredPlugin.skipped(PluginAssembler.unidentified(fallbackId(path), PluginSource.PLUGINS_DIR, location, e.getMessage()));
        }
        PluginInfo info = PluginAssembler.info(d, PluginSource.PLUGINS_DIR, location);
        String mismatch = PluginAssembler.spiMismatch(d);
        if (mismatch != null) {
            return DiscoveredPlugin.skipped(info.skipped(mismatch));
        }
        String id;
        try {
            id = manager.loadPlugin(path);
            manager.startPlugin(id);
        } catch (RuntimeException e) {
            return DiscoveredPlugin.skipped(info.skipped("PF4J could not load it: " + PluginAssembler.describe(e)));
        }
        List<PluginAssembler.Candidate> candidates = new ArrayList<>();
        for (ProviderKind kind : ProviderKind.values()) {
            for (Class<? extends NamedProvider> type : manager.getExtensionClasses(kind.serviceType(), id)) {
                candidates.add(new PluginAssembler.Candidate(kind, type.getName(), () -> instantiate(type)));
            }
        }
        DiscoveredPlugin result = PluginAssembler.assemble(info, candidates);
        if (result.info().status() == PluginInfo.Status.SKIPPED) {
            manager.unloadPlugin(id);
        }
        return result;
    }

    private static NamedProvider instantiate(Class<? extends NamedProvider> type) throws ReflectiveOperationException {
        Constructor<? extends NamedProvider> c = type.getConstructor();
        return c.newInstance(); // InvocationTargetException is unwrapped when reported
    }

    private static String fallbackId(Path path) {
        String name = path.getFileName().toString();
        return name.endsWith(".jar") ? name.substring(0, name.length() - 4) : name;
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.stopPlugins();
            manager.unloadPlugins();
            manager = null;
        }
    }
}
