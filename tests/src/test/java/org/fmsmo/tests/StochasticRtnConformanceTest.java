package org.fmsmo.tests;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.tck.QuantMethodConformance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The third-party fixture plugin (loaded from its jar in a plugins folder, in its own class
 * loader) passes the quant-method conformance kit, with its own config key set.
 */
class StochasticRtnConformanceTest extends QuantMethodConformance {

    private static PluginRegistry plugins;

    @BeforeAll
    static void load() throws Exception {
        Path dir = Fixtures.freshDir("conformance-plugins");
        Files.copy(Fixtures.fixtureJar("stochastic-rtn"), dir.resolve("stochastic-rtn.jar"));
        plugins = PluginRegistry.builder().pluginsDirectory(dir).build();
    }

    @AfterAll
    static void close() {
        plugins.close();
    }

    @Override
    protected QuantMethodProvider provider() {
        return plugins.get(QuantMethodProvider.class, "stochastic-rtn");
    }

    /** Weights only (it quantizes no activations), seeded through its own key. */
    @Override
    protected Map<String, Object> settings() {
        return Map.of("nbits_a", 32, "seed", 3);
    }
}
