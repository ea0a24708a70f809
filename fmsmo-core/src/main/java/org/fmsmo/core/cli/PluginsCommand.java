package org.fmsmo.core.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.fmsmo.api.SpiVersion;
import org.fmsmo.api.deploy.Availability;
import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.core.plugin.PluginInfo;
import org.fmsmo.core.plugin.PluginProblem;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.plugin.RegisteredProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fmsmo plugins}: every plugin found, active or skipped, with where it came from. */
@Command(name = "plugins", description = "List installed plugins: id, version, kinds, provided names, source and status.")
final class PluginsCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    PluginOptions pluginOptions;

    @Option(names = "--json", description = "Print one JSON object instead of a table.")
    boolean json;

    @Option(names = "--probe", description = "Also start each available backend once and report what it chose (device, kernels, "
            + "library versions). This loads native code, which listing alone never does.")
    boolean probe;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (PluginRegistry registry = pluginOptions.openRegistry()) {
            if (json) {
                out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(toJson(registry)));
            } else {
                printTable(registry, out);
            }
            pluginOptions.checkStrict(registry);
        }
        return 0;
    }

    private Map<String, Object> toJson(PluginRegistry registry) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("spi_version", SpiVersion.current().toString());
        root.put("plugins_dir", pluginOptions.pluginsDir().map(Path::toString).orElse(null));
        root.put("plugins", registry.plugins().stream().map(PluginsCommand::pluginJson).toList());
        root.put("backends", registry.providers(DeployBackendProvider.class).stream().map(r -> {
            Availability a = availability(r.provider());
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", r.provider().name());
            m.put("available", a.available());
            m.put("reason", a.reason());
            m.put("options", new java.util.TreeMap<>(r.provider().options()));
            if (probe && a.available()) {
                m.put("probe", probe(r.provider()));
            }
            return m;
        }).toList());
        root.put("problems", registry.problems().stream().map(p -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("severity", p.severity().name().toLowerCase(Locale.ROOT));
            m.put("message", p.message());
            m.put("location", p.location());
            return m;
        }).toList());
        return root;
    }

    private static Map<String, Object> pluginJson(PluginInfo p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", p.id());
        m.put("version", p.version());
        m.put("requires_spi", p.requires());
        m.put("kinds", p.kinds().stream().map(k -> k.label()).toList());
        m.put("provides", p.provides().stream().map(x -> Map.of("kind", x.kind().label(), "name", x.name())).toList());
        m.put("source", p.source().label());
        m.put("location", p.location());
        m.put("status", p.status().name().toLowerCase(Locale.ROOT));
        m.put("reason", p.reason());
        return m;
    }

    /** What a backend reports once started ({@code DeployBackend#diagnostics}), or why it would not start. */
    private static Map<String, Object> probe(DeployBackendProvider p) {
        try (var backend = p.create()) {
            Map<String, Object> m = new LinkedHashMap<>(backend.diagnostics());
            m.putIfAbsent("started", true);
            return m;
        } catch (RuntimeException | LinkageError e) {
            return Map.of("started", false, "reason", String.valueOf(e.getMessage()));
        }
    }

    private void printTable(PluginRegistry registry, PrintWriter out) {
        out.printf("fmsmo SPI %s%n%n", SpiVersion.current());
        out.printf("%-18s %-14s %-12s %-8s %s%n", "PLUGIN", "VERSION", "SOURCE", "STATUS", "PROVIDES");
        for (PluginInfo p : registry.plugins()) {
            String provides = p.provides().stream().map(x -> x.kind().label() + ":" + x.name()).collect(Collectors.joining(", "));
            out.printf("%-18s %-14s %-12s %-8s %s%n", p.id(), p.version(), p.source().label(),
                    p.status().name().toLowerCase(Locale.ROOT), provides.isEmpty() ? "-" : provides);
        }
        List<? extends RegisteredProvider<DeployBackendProvider>> backends = registry.providers(DeployBackendProvider.class);
        if (!backends.isEmpty()) {
            out.printf("%n%-18s %-12s %s%n", "BACKEND", "AVAILABLE", "REASON / OPTIONS");
            for (RegisteredProvider<DeployBackendProvider> r : backends) {
                Availability a = availability(r.provider());
                String options = String.join(", ", new java.util.TreeSet<>(r.provider().options().keySet()));
                out.printf("%-18s %-12s %s%n", r.provider().name(), a.available() ? "yes" : "no",
                        a.available() ? (options.isEmpty() ? "-" : "options: " + options) : a.reason());
                if (probe && a.available()) {
                    probe(r.provider()).forEach((k, v) -> out.printf("%-18s %-12s %s: %s%n", "", "", k, v));
                }
            }
        }
        List<PluginProblem> problems = registry.problems();
        if (!problems.isEmpty()) {
            out.printf("%n%d problem(s):%n", problems.size());
            for (PluginProblem p : problems) {
                out.printf("  %s: %s%n    at %s%n", p.severity().name().toLowerCase(Locale.ROOT), p.message(), p.location());
            }
        }
    }

    /** A backend's availability; a provider that breaks the never-throws contract is reported, not fatal. */
    private static Availability availability(DeployBackendProvider p) {
        try {
            return p.availability();
        } catch (RuntimeException | LinkageError e) {
            return Availability.no("availability check failed: " + e);
        }
    }
}
