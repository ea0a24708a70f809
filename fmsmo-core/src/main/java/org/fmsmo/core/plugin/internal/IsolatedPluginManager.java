package org.fmsmo.core.plugin.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.fmsmo.api.FmsmoException;
import org.pf4j.ClassLoadingStrategy;
import org.pf4j.DefaultPluginDescriptor;
import org.pf4j.DefaultPluginManager;
import org.pf4j.ExtensionFinder;
import org.pf4j.Plugin;
import org.pf4j.PluginClassLoader;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginDescriptorFinder;
import org.pf4j.PluginFactory;
import org.pf4j.PluginLoader;
import org.pf4j.PluginRepository;
import org.pf4j.PluginRuntimeException;
import org.pf4j.ServiceProviderExtensionFinder;

/**
 * PF4J configured for fmsmo: plugins are jars (or folders of jars) in one directory; the
 * descriptor is the jar manifest's {@code Plugin-*} headers; each plugin gets a
 * {@link PluginClassLoader} whose parent is a {@link SpiOnlyClassLoader}; extensions are the
 * plugin's own {@code META-INF/services} entries (the same files the module path and class path
 * use); plugins bring no lifecycle class (they cannot see PF4J), so the host supplies an empty one.
 */
final class IsolatedPluginManager extends DefaultPluginManager {

    private final SpiOnlyClassLoader parent = new SpiOnlyClassLoader(IsolatedPluginManager.class.getClassLoader());

    IsolatedPluginManager(Path root) {
        super(root);
    }

    /**
     * The plugin paths in a directory: first each sub-folder (an installed plugin, {@code plugins/<id>/}),
     * then each loose {@code *.jar} (a drop-in), each group sorted by name. On a name clash the
     * earlier plugin keeps the name, so a drop-in can never take over an installed plugin's name.
     */
    static List<Path> pluginPaths(Path root) {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> !p.getFileName().toString().startsWith("."))
                    .filter(p -> Files.isDirectory(p) || p.getFileName().toString().endsWith(".jar"))
                    .sorted(java.util.Comparator.comparing((Path p) -> !Files.isDirectory(p)).thenComparing(Path::getFileName))
                    .toList();
        } catch (IOException e) {
            throw new PluginRuntimeException(e, "cannot list plugins directory {}", root);
        }
    }

    /** The jar holding the descriptor: the path itself, or the one jar in a plugin folder whose manifest has Plugin-Id. */
    static Path mainJar(Path pluginPath) {
        if (!Files.isDirectory(pluginPath)) {
            return pluginPath;
        }
        List<Path> jars = jars(pluginPath);
        for (Path jar : jars) {
            try {
                if (PluginManifests.manifest(jar).getMainAttributes().getValue(org.fmsmo.api.plugin.PluginDescriptor.ID) != null) {
                    return jar;
                }
            } catch (FmsmoException e) {
                // not a readable jar: a dependency jar that is broken surfaces when classes load
            }
        }
        throw new FmsmoException(org.fmsmo.api.ErrorCode.PLUGIN_LOAD_FAILED, "no plugin descriptor in folder " + pluginPath
                + ": expected a jar whose META-INF/MANIFEST.MF has Plugin-Id, Plugin-Version, Plugin-Requires (found jars: "
                + jars.stream().map(j -> j.getFileName().toString()).toList() + ")");
    }

    /** The jars of a plugin folder and its {@code lib/}, sorted. */
    static List<Path> jars(Path folder) {
        List<Path> result = new ArrayList<>();
        for (Path dir : List.of(folder, folder.resolve("lib"))) {
            if (Files.isDirectory(dir)) {
                try (Stream<Path> s = Files.list(dir)) {
                    s.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().forEach(result::add);
                } catch (IOException e) {
                    throw new PluginRuntimeException(e, "cannot list {}", dir);
                }
            }
        }
        return result;
    }

    @Override
    protected PluginRepository createPluginRepository() {
        return new PluginRepository() {
            @Override
            public List<Path> getPluginPaths() {
                List<Path> all = new ArrayList<>();
                getPluginsRoots().forEach(r -> all.addAll(pluginPaths(r)));
                return all;
            }

            @Override
            public boolean deletePluginPath(Path pluginPath) {
                return false; // fmsmo never deletes what a user installed
            }
        };
    }

    @Override
    protected PluginDescriptorFinder createPluginDescriptorFinder() {
        return new PluginDescriptorFinder() {
            @Override
            public boolean isApplicable(Path pluginPath) {
                return true;
            }

            @Override
            public PluginDescriptor find(Path pluginPath) {
                try {
                    org.fmsmo.api.plugin.PluginDescriptor d = PluginManifests.read(mainJar(pluginPath));
                    return new DefaultPluginDescriptor(d.id(), d.description(), null, d.version().toString(),
                            d.requires().toString(), d.provider(), null);
                } catch (FmsmoException e) {
                    throw new PluginRuntimeException(e, e.getMessage());
                }
            }
        };
    }

    @Override
    protected PluginLoader createPluginLoader() {
        return new PluginLoader() {
            @Override
            public boolean isApplicable(Path pluginPath) {
                return true;
            }

            @Override
            public ClassLoader loadPlugin(Path pluginPath, PluginDescriptor descriptor) {
                // Application (= the SPI-only parent) first, so SPI types always resolve to the host's copies.
                PluginClassLoader loader = new PluginClassLoader(IsolatedPluginManager.this, descriptor, parent, ClassLoadingStrategy.APD);
                List<Path> jars = Files.isDirectory(pluginPath) ? jars(pluginPath) : List.of(pluginPath);
                jars.forEach(j -> loader.addFile(j.toFile()));
                return loader;
            }
        };
    }

    @Override
    protected PluginFactory createPluginFactory() {
        return wrapper -> new Plugin() {
        };
    }

    @Override
    protected ExtensionFinder createExtensionFinder() {
        ServiceProviderExtensionFinder finder = new ServiceProviderExtensionFinder(this) {
            /**
             * Nothing from the host's class path: extensions are looked up per plugin only
             * (PluginsDirectoryDiscovery), the host's own providers come through ServiceLoader, and
             * PF4J's scan of every host jar's META-INF/services logs a stack trace at jars that keep
             * folders there (jline's, which the progress bar brings).
             */
            @Override
            public java.util.Map<String, java.util.Set<String>> readClasspathStorages() {
                return new java.util.LinkedHashMap<>();
            }
        };
        addPluginStateListener(finder);
        return finder;
    }
}
