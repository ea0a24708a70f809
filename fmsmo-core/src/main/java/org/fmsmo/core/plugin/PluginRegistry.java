package org.fmsmo.core.plugin;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.NamedProvider;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.core.plugin.internal.ApplicationDiscovery;
import org.fmsmo.core.plugin.internal.PluginsDirectoryDiscovery;

/**
 * The one place providers are looked up by kind and name, fed by any number of
 * {@link PluginDiscovery discoveries}: the application's module layer or class path
 * ({@link java.util.ServiceLoader}), a plugins directory (PF4J, one isolated class loader per
 * plugin), an OSGi service registry.
 *
 * <p>Names are unique per kind: when a second plugin claims a name that is taken, that plugin is
 * skipped and the problem names both locations. Bad plugins never stop the host; they are listed
 * with their reason, and {@link #requireNoProblems()} (the CLI's {@code --strict}) turns them into a failure.
 *
 * <p>Thread-safe after construction (the tables are immutable). Close it to stop plugins loaded
 * from a directory.
 */
public final class PluginRegistry implements AutoCloseable {

    private final List<PluginDiscovery> discoveries;
    private final List<PluginInfo> plugins;
    private final List<PluginProblem> problems;
    private final Map<ProviderKind, Map<String, RegisteredProvider<?>>> byKind;

    private PluginRegistry(List<PluginDiscovery> discoveries) {
        this.discoveries = List.copyOf(discoveries);
        List<PluginInfo> infos = new ArrayList<>();
        List<PluginProblem> found = new ArrayList<>();
        Map<ProviderKind, Map<String, RegisteredProvider<?>>> tables = new EnumMap<>(ProviderKind.class);
        for (ProviderKind k : ProviderKind.values()) {
            tables.put(k, new LinkedHashMap<>());
        }
        for (PluginDiscovery d : discoveries) {
            for (DiscoveredPlugin p : d.discover()) {
                PluginInfo info = p.info();
                String clash = p.providers().isEmpty() ? null : firstClash(p, tables);
                if (clash != null) {
                    info = info.skipped(clash);
                } else {
                    for (DiscoveredPlugin.Instance i : p.providers()) {
                        tables.get(i.kind()).put(i.provider().name(), new RegisteredProvider<>(i.kind(), i.provider(), info));
                    }
                }
                infos.add(info);
                if (info.status() == PluginInfo.Status.SKIPPED) {
                    found.add(new PluginProblem(PluginProblem.Severity.ERROR, "plugin '" + info.id() + "' skipped: " + info.reason(), info.location()));
                } else if (info.provides().isEmpty()) {
                    found.add(new PluginProblem(PluginProblem.Severity.WARNING, "plugin '" + info.id()
                            + "' provides nothing: its META-INF/services lists no loadable fmsmo provider", info.location()));
                }
            }
        }
        this.plugins = List.copyOf(infos);
        this.problems = List.copyOf(found);
        tables.replaceAll((k, v) -> Collections.unmodifiableMap(v));
        this.byKind = Collections.unmodifiableMap(tables);
    }

    private static String firstClash(DiscoveredPlugin p, Map<ProviderKind, Map<String, RegisteredProvider<?>>> tables) {
        for (DiscoveredPlugin.Instance i : p.providers()) {
            RegisteredProvider<?> taken = tables.get(i.kind()).get(i.provider().name());
            if (taken != null) {
                return "duplicate " + i.kind().label() + " name '" + i.provider().name() + "': already provided by plugin '"
                        + taken.plugin().id() + "' at " + taken.plugin().location() + " (" + taken.plugin().source().label()
                        + "), and again by plugin '" + p.info().id() + "' at " + p.info().location();
            }
        }
        return null;
    }

    /** A builder with no discoveries yet. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The usual host set-up: the application's providers (module path and class path, through
     * {@code ServiceLoader} with this class's loader), plus a plugins directory when given.
     *
     * @param pluginsDir null for none; a missing folder is treated as empty
     */
    public static PluginRegistry standard(Path pluginsDir) {
        Builder b = builder().application();
        if (pluginsDir != null) {
            b.pluginsDirectory(pluginsDir);
        }
        return b.build();
    }

    /** Every plugin found, active or skipped, in discovery order. */
    public List<PluginInfo> plugins() {
        return plugins;
    }

    /** Every problem found, in discovery order. */
    public List<PluginProblem> problems() {
        return problems;
    }

    /**
     * Fails when any plugin was skipped ({@code --strict}).
     *
     * @throws FmsmoException {@link ErrorCode#PLUGIN_LOAD_FAILED} listing every error
     */
    public void requireNoProblems() {
        List<PluginProblem> errors = problems.stream().filter(p -> p.severity() == PluginProblem.Severity.ERROR).toList();
        if (!errors.isEmpty()) {
            throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED, errors.size() + " plugin problem(s) in strict mode:\n  "
                    + errors.stream().map(PluginProblem::toString).collect(Collectors.joining("\n  ")));
        }
    }

    /** The registered providers of a kind, in registration order. */
    @SuppressWarnings("unchecked")
    public <P extends NamedProvider> List<RegisteredProvider<P>> providers(Class<P> type) {
        ProviderKind kind = kindOf(type);
        return byKind.get(kind).values().stream().map(r -> (RegisteredProvider<P>) r).toList();
    }

    /** The names registered for a kind, in registration order. */
    public List<String> names(ProviderKind kind) {
        return List.copyOf(byKind.get(kind).keySet());
    }

    /**
     * The provider of {@code type} called {@code name}.
     *
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} listing the known names of that kind
     */
    public <P extends NamedProvider> P get(Class<P> type, String name) {
        return registration(type, name).provider();
    }

    /** Like {@link #get}, with the plugin it came from. */
    @SuppressWarnings("unchecked")
    public <P extends NamedProvider> RegisteredProvider<P> registration(Class<P> type, String name) {
        Objects.requireNonNull(name, "name");
        ProviderKind kind = kindOf(type);
        RegisteredProvider<?> r = byKind.get(kind).get(name);
        if (r == null) {
            List<String> known = byKind.get(kind).keySet().stream().sorted().toList();
            throw new FmsmoException(ErrorCode.UNKNOWN_NAME, "unknown " + kind.label() + " '" + name + "'; known: "
                    + (known.isEmpty() ? "none" : String.join(", ", known))
                    + " (run 'fmsmo plugins' to see what is installed and what was skipped)");
        }
        return (RegisteredProvider<P>) r;
    }

    private static ProviderKind kindOf(Class<?> type) {
        for (ProviderKind k : ProviderKind.values()) {
            if (k.serviceType() == type) {
                return k;
            }
        }
        throw new IllegalArgumentException(type.getName() + " is not an fmsmo provider type");
    }

    /** Stops and unloads directory plugins; idempotent. */
    @Override
    public void close() {
        for (PluginDiscovery d : discoveries) {
            d.close();
        }
    }

    /** Collects the discoveries, in the order their plugins take precedence. */
    public static final class Builder {
        private final List<PluginDiscovery> discoveries = new ArrayList<>();

        private Builder() {
        }

        /** Providers visible to fmsmo-core's own class loader: its module layer and the class path. */
        public Builder application() {
            return application(PluginRegistry.class.getClassLoader());
        }

        /** Providers visible to {@code loader} ({@code ServiceLoader.load(type, loader)}). */
        public Builder application(ClassLoader loader) {
            return discovery(new ApplicationDiscovery(loader));
        }

        /** Plugin jars and folders in {@code dir}, loaded through PF4J. */
        public Builder pluginsDirectory(Path dir) {
            return discovery(new PluginsDirectoryDiscovery(dir));
        }

        /** Any other discovery (OSGi, a test's own). */
        public Builder discovery(PluginDiscovery d) {
            discoveries.add(Objects.requireNonNull(d, "discovery"));
            return this;
        }

        /** Runs every discovery and builds the tables. */
        public PluginRegistry build() {
            return new PluginRegistry(discoveries);
        }
    }
}
