package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * Embeds Apache Felix, installs the api and core bundles and a third-party plugin bundle (headers
 * from bnd), and finds the plugin's {@code QuantMethodProvider} in the OSGi service registry,
 * where core's extender put it. The framework has its own class loaders, so the test talks to
 * the bundles' objects reflectively.
 */
class FelixEmbeddingTest {

    /**
     * Host packages the bundles import: DJL and core's libraries are not bundles here, so the
     * system bundle exports whatever third-party package core's manifest imports, at the lowest
     * version its range accepts.
     */
    static String systemPackages(Path coreJar) throws java.io.IOException {
        String imports;
        try (java.util.jar.JarFile jar = new java.util.jar.JarFile(coreJar.toFile())) {
            imports = jar.getManifest().getMainAttributes().getValue("Import-Package");
        }
        List<String> out = new java.util.ArrayList<>();
        // Clauses are separated by commas outside quotes: pkg;version="[2.18,3)",next
        for (String clause : imports.split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)")) {
            String pkg = clause.split(";")[0].trim();
            if (pkg.startsWith("org.fmsmo.") || pkg.startsWith("org.osgi.")) {
                continue;
            }
            java.util.regex.Matcher v = java.util.regex.Pattern.compile("version=\"[\\[(]?([0-9.]+)").matcher(clause);
            out.add(v.find() ? pkg + ";version=" + v.group(1) : pkg);
        }
        return String.join(",", out);
    }

    @Test
    void pluginBundleProvidesItsMethodThroughTheServiceRegistry() throws Exception {
        Path dist = Fixtures.distribution();
        Map<String, String> config = new HashMap<>();
        config.put(Constants.FRAMEWORK_STORAGE, Fixtures.freshDir("felix").toString());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        config.put(Constants.FRAMEWORK_SYSTEMPACKAGES_EXTRA, systemPackages(Fixtures.onlyJarNamed(dist.resolve("lib"), "fmsmo-core")));
        Framework felix = ServiceLoader.load(FrameworkFactory.class).findFirst().orElseThrow().newFramework(config);
        felix.start();
        try {
            BundleContext ctx = felix.getBundleContext();
            Bundle api = ctx.installBundle(Fixtures.onlyJarNamed(dist.resolve("lib"), "fmsmo-api").toUri().toString());
            Bundle core = ctx.installBundle(Fixtures.onlyJarNamed(dist.resolve("lib"), "fmsmo-core").toUri().toString());
            Bundle plugin = ctx.installBundle(Fixtures.fixtureJar("stochastic-rtn").toUri().toString());
            for (Bundle b : List.of(api, core, plugin)) {
                b.start();
                assertEquals(Bundle.ACTIVE, b.getState(), b.getSymbolicName() + " did not start");
            }

            // getAllServiceReferences: the test's own copies of these classes differ from the bundles'.
            ServiceReference<?>[] regRefs = ctx.getAllServiceReferences("org.fmsmo.core.plugin.PluginRegistry", null);
            assertNotNull(regRefs, "core registers a PluginRegistry service");
            Object registry = ctx.getService(regRefs[0]);
            String listing = registry.getClass().getMethod("plugins").invoke(registry).toString();

            ServiceReference<?>[] refs = ctx.getAllServiceReferences("org.fmsmo.api.quant.QuantMethodProvider", "(fmsmo.name=stochastic-rtn)");
            assertNotNull(refs, "no QuantMethodProvider named stochastic-rtn in the service registry; core's registry: " + listing);
            assertEquals(1, refs.length);
            assertEquals(plugin, refs[0].getBundle(), "registered in the plugin bundle's name");
            assertEquals("stochastic-rtn", refs[0].getProperty("fmsmo.plugin.id"));
            Object provider = ctx.getService(refs[0]);
            assertEquals("stochastic-rtn", provider.getClass().getMethod("name").invoke(provider));
            Object method = provider.getClass().getMethod("create").invoke(provider);
            assertTrue(method.getClass().getName().endsWith("StochasticRtnMethod"), method.getClass().getName());

            // Core keeps a PluginRegistry snapshot of the OSGi registry as a service.
            assertTrue(listing.contains("id=stochastic-rtn") && listing.contains("source=OSGI"), listing);
            assertTrue(listing.contains("id=fmsmo-core"), listing);

            plugin.stop();
            assertNull(ctx.getAllServiceReferences("org.fmsmo.api.quant.QuantMethodProvider", "(fmsmo.name=stochastic-rtn)"),
                    "the provider leaves with its bundle");
        } finally {
            felix.stop();
            felix.waitForStop(10_000);
        }
    }
}
