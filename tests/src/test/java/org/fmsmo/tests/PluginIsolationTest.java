package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.core.analysis.QuantPlanner;
import org.fmsmo.core.context.DefaultQuantContext;
import org.fmsmo.core.model.LayerTable;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.plugin.PluginSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A plugins directory loaded in-process: isolation of each plugin's class loader, and a third-party method at work. */
class PluginIsolationTest {

    private static PluginRegistry registry;

    @BeforeAll
    static void load() throws Exception {
        Path dir = Fixtures.freshDir("isolation-plugins");
        Files.copy(Fixtures.fixtureJar("stochastic-rtn"), dir.resolve("stochastic-rtn.jar"));
        Fixtures.copyTree(Fixtures.distribution().resolve("plugins/rtn"), dir.resolve("rtn"));
        registry = PluginRegistry.builder().application().pluginsDirectory(dir).build();
        assertEquals(List.of(), registry.problems());
    }

    @AfterAll
    static void close() {
        registry.close();
    }

    @Test
    void aPluginSeesTheSpiAndDjlButNotCoreOrOtherPlugins() throws Exception {
        QuantMethodProvider p = registry.get(QuantMethodProvider.class, "stochastic-rtn");
        assertEquals(PluginSource.PLUGINS_DIR, registry.registration(QuantMethodProvider.class, "stochastic-rtn").plugin().source());
        ClassLoader loader = p.getClass().getClassLoader();
        assertNotSame(PluginIsolationTest.class.getClassLoader(), loader);

        assertSame(QuantMethodProvider.class, loader.loadClass(QuantMethodProvider.class.getName()), "SPI types are the host's");
        assertSame(NDArray.class, loader.loadClass(NDArray.class.getName()), "DJL types are the host's");
        assertSame(String.class, loader.loadClass("java.lang.String"));
        assertThrows(ClassNotFoundException.class, () -> loader.loadClass("org.fmsmo.core.plugin.PluginRegistry"), "core internals");
        assertThrows(ClassNotFoundException.class, () -> loader.loadClass("com.fasterxml.jackson.databind.ObjectMapper"), "host libraries");
        assertThrows(ClassNotFoundException.class, () -> loader.loadClass("org.fmsmo.plugin.rtn.RtnMethodProvider"), "another plugin");
        assertThrows(ClassNotFoundException.class, () -> loader.loadClass("org.pf4j.PluginManager"), "the plugin framework");
        assertFalse(loader.getResources("META-INF/services/org.fmsmo.api.quant.QuantizerProvider").hasMoreElements(),
                "the host's service files are invisible to plugins");
    }

    @Test
    void unknownNamesListTheKnownOnes() {
        FmsmoException e = assertThrows(FmsmoException.class, () -> registry.get(QuantMethodProvider.class, "gptq"));
        assertEquals(ErrorCode.UNKNOWN_NAME, e.code());
        assertTrue(e.getMessage().contains("unknown quant-method 'gptq'; known: rtn, stochastic-rtn"), e.getMessage());
    }

    /** Stochastic rounding picks floor or ceil of w/s, and is unbiased: E[ŵ − w] = 0. */
    @Test
    void theThirdPartyMethodRoundsStochasticallyAndWithoutBias() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(11);
            Linear layer = new Linear("proj", m.randomUniform(-1f, 1f, new Shape(128, 512)), null);
            LayerTable model = new LayerTable("Test", m, List.of(layer));
            QuantConfig cfg = QuantConfig.empty().with("qw_spec", "int4-sym-channel").with("seed", 3);
            registry.get(QuantMethodProvider.class, "stochastic-rtn").create()
                    .quantize(new DefaultQuantContext(model, QuantPlanner.plan(model, cfg), cfg, registry, ProgressListener.NONE));

            LayerWrapper w = (LayerWrapper) model.linear("proj");
            QuantizedTensor q = w.frozenWeight();
            float[] x = layer.weight().toFloatArray();
            byte[] codes = q.codes().toByteArray();
            float[] scale = q.scale().toFloatArray();
            double sumErr = 0;
            int roundedAwayFromNearest = 0;
            for (int r = 0; r < 128; r++) {
                float amax = 0;
                for (int c = 0; c < 512; c++) {
                    amax = Math.max(amax, Math.abs(x[r * 512 + c]));
                }
                assertEquals(amax / 7, scale[r], 0f, "scale of row " + r);
                for (int c = 0; c < 512; c++) {
                    double z = x[r * 512 + c] / scale[r];
                    int code = codes[r * 512 + c];
                    assertTrue(code == Math.floor(z) || code == Math.ceil(z), "code " + code + " for " + z);
                    if (code != Math.rint(z)) {
                        roundedAwayFromNearest++;
                    }
                    sumErr += code - z;
                }
            }
            int n = 128 * 512;
            // Var(code − z) ≤ 1/4, so the mean error's standard deviation is ≤ 0.5/√n ≈ 0.002.
            assertEquals(0.0, sumErr / n, 4 * 0.5 / Math.sqrt(n), "stochastic rounding is unbiased");
            // Rounding to the farther neighbour happens with probability E[min(f, 1−f)] = 1/4 for uniform fractions.
            assertEquals(0.25, roundedAwayFromNearest / (double) n, 0.02);
        }
    }
}
