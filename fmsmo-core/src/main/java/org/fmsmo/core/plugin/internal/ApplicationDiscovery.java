package org.fmsmo.core.plugin.internal;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.NamedProvider;
import org.fmsmo.api.plugin.PluginDescriptor;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.core.plugin.DiscoveredPlugin;
import org.fmsmo.core.plugin.PluginDiscovery;
import org.fmsmo.core.plugin.PluginInfo;
import org.fmsmo.core.plugin.PluginSource;

/**
 * Providers the application already has: named modules that {@code provides} an SPI type (module
 * path) and jars with {@code META-INF/services} (class path), found with {@link ServiceLoader}.
 * Providers are grouped by the jar (or class folder) they come from; each jar is one plugin and
 * must carry a descriptor, checked before any of its providers is instantiated.
 */
public final class ApplicationDiscovery implements PluginDiscovery {

    private final ClassLoader loader;

    /** @param loader the loader whose module layer and class path are searched */
    public ApplicationDiscovery(ClassLoader loader) {
        this.loader = loader;
    }

    private record Group(Path location, List<ServiceLoader.Provider<? extends NamedProvider>> providers,
                         List<ProviderKind> kinds) {
    }

    @Override
    public List<DiscoveredPlugin> discover() {
        Map<Path, Group> groups = new LinkedHashMap<>();
        List<DiscoveredPlugin> broken = new ArrayList<>();
        for (ProviderKind kind : ProviderKind.values()) {
            Iterator<? extends ServiceLoader.Provider<? extends NamedProvider>> it =
                    ServiceLoader.load(kind.serviceType(), loader).stream().iterator();
            while (true) {
                ServiceLoader.Provider<? extends NamedProvider> p;
                try {
                    if (!it.hasNext()) {
                        break;
                    }
                    p = it.next();
                } catch (ServiceConfigurationError e) {
                    // A services file naming a missing or wrong class; the loader skips past it.
                    broken.add(DiscoveredPlugin.skipped(PluginAssembler.unidentified("unknown", PluginSource.CLASS_PATH,
                            "class path", kind.label() + " provider could not be loaded: " + PluginAssembler.describe(e))));
                    continue;
                }
                Path where = location(p.type());
                Group g = groups.computeIfAbsent(where, w -> new Group(w, new ArrayList<>(), new ArrayList<>()));
                g.providers().add(p);
                g.kinds().add(kind);
            }
        }
        List<DiscoveredPlugin> result = new ArrayList<>();
        for (Group g : groups.values()) {
            result.add(load(g));
        }
        result.addAll(broken);
        return result;
    }

    private static DiscoveredPlugin load(Group g) {
        Class<?> first = g.providers().getFirst().type();
        PluginSource source = first.getPackageName().startsWith("org.fmsmo.") ? PluginSource.BUILT_IN
                : first.getModule().isNamed() ? PluginSource.MODULE_PATH : PluginSource.CLASS_PATH;
        String location = g.location().toString();
        PluginDescriptor d;
        try {
            d = PluginManifests.read(g.location());
        } catch (FmsmoException e) {
            String fallback = first.getModule().isNamed() ? first.getModule().getName() : g.location().getFileName().toString();
            return DiscoveredPlugin.skipped(PluginAssembler.unidentified(fallback, source, location, e.getMessage()));
        }
        PluginInfo info = PluginAssembler.info(d, source, location);
        String mismatch = PluginAssembler.spiMismatch(d);
        if (mismatch != null) {
            return DiscoveredPlugin.skipped(info.skipped(mismatch));
        }
        List<PluginAssembler.Candidate> candidates = new ArrayList<>();
        for (int i = 0; i < g.providers().size(); i++) {
            ServiceLoader.Provider<? extends NamedProvider> p = g.providers().get(i);
            candidates.add(new PluginAssembler.Candidate(g.kinds().get(i), p.type().getName(), p::get));
        }
        return PluginAssembler.assemble(info, candidates);
    }

    private static Path location(Class<?> type) {
        CodeSource cs = type.getProtectionDomain().getCodeSource();
        if (cs == null || cs.getLocation() == null) {
            return Path.of("<" + type.getModule() + ">");
        }
        try {
            return Path.of(cs.getLocation().toURI());
        } catch (URISyntaxException | IllegalArgumentException e) {
            return Path.of(cs.getLocation().getPath());
        }
    }
}
