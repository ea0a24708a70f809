package org.fmsmo.tests.embed;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.stream.Collectors;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.core.analysis.QuantPlanner;
import org.fmsmo.core.context.DefaultQuantContext;
import org.fmsmo.core.model.LayerTable;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.plugin.PluginInfo;
import org.fmsmo.core.plugin.PluginRegistry;

/**
 * An application that embeds fmsmo: it finds its plugins with {@code ServiceLoader} through
 * core's {@code uses} clauses (module path) and runs each named method on a small two-layer model.
 * Prints one line per plugin ({@code plugin <id> <source> <status> <names>}) and one per run
 * ({@code ran <method> layers=<n> frozen=<n>}).
 *
 * <p>Usage: {@code EmbeddingApp method...}
 */
public final class EmbeddingApp {

    private EmbeddingApp() {
    }

    /** Entry point. */
    public static void main(String[] args) {
        try (PluginRegistry registry = PluginRegistry.builder().application().build()) {
            for (PluginInfo p : registry.plugins()) {
                String names = p.provides().stream().map(x -> x.name()).collect(Collectors.joining(","));
                System.out.println("plugin " + p.id() + " " + p.source().name() + " " + p.status() + " " + names);
            }
            for (String method : args) {
                run(registry, method);
            }
        }
    }

    private static void run(PluginRegistry registry, String method) {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(7);
            LayerTable model = new LayerTable("Demo", m, List.of(
                    new Linear("layers.0.up", m.randomNormal(new Shape(16, 8)), null),
                    new Linear("lm_head", m.randomNormal(new Shape(4, 16)), null)));
            QuantPlan plan = QuantPlanner.plan(model, QuantConfig.empty().with("qw_spec", "int4-sym-channel"));
            QuantReport report = registry.get(QuantMethodProvider.class, method).create()
                    .quantize(new DefaultQuantContext(model, plan, QuantConfig.empty(), registry, ProgressListener.NONE));
            long frozen = model.linearLayers().stream()
                    .filter(l -> l instanceof org.fmsmo.api.quant.LayerWrapper w && w.isFrozen()).count();
            System.out.println("ran " + method + " layers=" + report.layers().size() + " frozen=" + frozen);
        }
    }
}
