package org.fmsmo.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The SPI's rules, checked on the compiled classes: stability annotations, and no dependencies but DJL. */
class ApiBoundaryTest {

    private static Path classesDir() throws URISyntaxException {
        return Path.of(SpiVersion.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static List<Class<?>> publicTypes() throws Exception {
        Path root = classesDir();
        List<Class<?>> result = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(f -> f.toString().endsWith(".class") && !f.getFileName().toString().equals("module-info.class")).toList()) {
                String name = root.relativize(p).toString().replace('/', '.').replaceAll("\\.class$", "");
                Class<?> c = Class.forName(name, false, ApiBoundaryTest.class.getClassLoader());
                if (Modifier.isPublic(c.getModifiers()) && !c.isAnonymousClass() && !c.isSynthetic()
                        && (c.getEnclosingClass() == null || Modifier.isPublic(c.getEnclosingClass().getModifiers()))) {
                    result.add(c);
                }
            }
        }
        return result;
    }

    @Test
    void everyPublicTypeCarriesAStabilityAnnotationWithSince() throws Exception {
        List<Class<?>> types = publicTypes();
        assertTrue(types.size() > 30, "found only " + types.size() + " public types: wrong classes folder?");
        List<String> missing = new ArrayList<>();
        for (Class<?> c : types) {
            String since = c.isAnnotationPresent(Stable.class) ? c.getAnnotation(Stable.class).since()
                    : c.isAnnotationPresent(Experimental.class) ? c.getAnnotation(Experimental.class).since()
                    : c.isAnnotationPresent(Internal.class) ? c.getAnnotation(Internal.class).since() : null;
            if (since == null || !since.matches("\\d+\\.\\d+")) {
                missing.add(c.getName());
            }
        }
        assertEquals(List.of(), missing, "public SPI types without @Stable/@Experimental/@Internal(since = \"major.minor\")");
    }

    @Test
    void theModuleRequiresOnlyTheJdkAndDjlApi() throws IOException, URISyntaxException {
        ModuleDescriptor d;
        try (InputStream in = Files.newInputStream(classesDir().resolve("module-info.class"))) {
            d = ModuleDescriptor.read(in);
        }
        Set<String> requires = d.requires().stream().map(ModuleDescriptor.Requires::name).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(Set.of("java.base", "ai.djl.api")), requires, "fmsmo-api gained a dependency");
        assertEquals("org.fmsmo.api", d.name());
    }

    @Test
    void theSpiVersionIsThePomsAndSemantic() {
        assertEquals(Version.of(1, 9, 0), SpiVersion.current());
    }
}
