package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Launches {@code java --module-path ...} on the built jars: an application module that embeds
 * core finds the bundled {@code rtn} plugin and a third-party plugin module through core's
 * {@code uses} clauses and each module's {@code provides}, and runs them.
 */
class ModulePathEmbeddingTest {

    @Test
    void coreOnTheModulePathFindsPluginModulesAndRunsThem() throws Exception {
        Path dist = Fixtures.distribution();
        List<String> modulePath = new ArrayList<>();
        String classPath;
        try (Stream<Path> libs = Files.list(dist.resolve("lib"))) {
            List<Path> jars = libs.sorted().toList();
            // PyTorch's native jar has no valid automatic module name, and commons-compress's module
            // requires commons-lang3, which DJL does not ship: both stay on the class path (STACK.md).
            classPath = jars.stream().filter(ModulePathEmbeddingTest::classPathOnly).map(Path::toString)
                    .reduce((a, b) -> a + File.pathSeparator + b).orElseThrow();
            jars.stream().filter(j -> !classPathOnly(j)).map(Path::toString).forEach(modulePath::add);
        }
        modulePath.add(Fixtures.onlyJar(dist.resolve("plugins/rtn")).toString());
        modulePath.add(Fixtures.fixtureJar("stochastic-rtn").toString());
        modulePath.add(Fixtures.property("fmsmo.tests.classes").toString());

        Path cache = Fixtures.property("fmsmo.work").resolve("cache/djl");
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true",
                "-DDJL_CACHE_DIR=" + cache, "-DENGINE_CACHE_DIR=" + cache,
                "--module-path", String.join(File.pathSeparator, modulePath),
                "-cp", classPath,
                // DJL is an automatic module and needs slf4j resolved although nothing requires it by name.
                "--add-modules", "ALL-MODULE-PATH",
                "-m", "org.fmsmo.tests/org.fmsmo.tests.embed.EmbeddingApp", "rtn", "stochastic-rtn");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OPT_OUT_TRACKING", "true");
        Path log = Fixtures.freshDir("module-path").resolve("out.txt");
        Process p = pb.redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "module-path run did not finish");
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);

        assertTrue(out.contains("plugin rtn BUILT_IN ACTIVE rtn"), out);
        assertTrue(out.contains("plugin stochastic-rtn MODULE_PATH ACTIVE stochastic-rtn"), out);
        assertTrue(out.contains("plugin fmsmo-core BUILT_IN ACTIVE " + String.join(",", org.fmsmo.core.quant.QuantizerModes.NAMES) + ",qlinear"), out);
        // The planner skips lm_head, so one of the two layers is quantized and frozen.
        assertTrue(out.contains("ran rtn layers=1 frozen=1"), out);
        assertTrue(out.contains("ran stochastic-rtn layers=1 frozen=1"), out);
    }

    private static boolean classPathOnly(Path jar) {
        String n = jar.getFileName().toString();
        return n.startsWith("pytorch-native") || n.startsWith("commons-compress");
    }
}
