package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Paths the build hands to these tests, and file helpers. */
final class Fixtures {

    private Fixtures() {
    }

    static Path property(String key) {
        String v = System.getProperty(key);
        assertTrue(v != null, "system property " + key + " is not set: run these tests through Maven (mvn verify)");
        return Path.of(v).toAbsolutePath().normalize();
    }

    /** The assembled distribution folder (distribution/target/fmsmo). */
    static Path distribution() {
        Path d = property("fmsmo.distribution");
        assertTrue(Files.isExecutable(d.resolve("bin/fmsmo")), "no assembled distribution at " + d + ": run mvn verify from the top");
        return d;
    }

    /** A fixture plugin jar by artifact id (stochastic-rtn, future-spi, ...). */
    static Path fixtureJar(String artifactId) {
        Path p = property("fmsmo.fixtures").resolve(artifactId + ".jar");
        assertTrue(Files.isRegularFile(p), "missing fixture plugin " + p);
        return p;
    }

    /** The text file named like a jar. */
    static Path notAJar() {
        return property("fmsmo.not-a-jar");
    }

    /** A fresh empty folder under target/work. */
    static Path freshDir(String name) throws IOException {
        Path d = property("fmsmo.work").resolve(name);
        deleteTree(d);
        Files.createDirectories(d);
        return d;
    }

    /** The single jar in a folder. */
    static Path onlyJar(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            List<Path> jars = s.filter(p -> p.toString().endsWith(".jar")).toList();
            assertTrue(jars.size() == 1, "expected one jar in " + folder + ", found " + jars);
            return jars.getFirst();
        }
    }

    /** The jar in a folder whose name starts with {@code prefix-} followed by a version digit. */
    static Path onlyJarNamed(Path folder, String prefix) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            List<Path> jars = s.filter(p -> p.getFileName().toString().matches(java.util.regex.Pattern.quote(prefix) + "-\\d.*\\.jar")).toList();
            assertTrue(jars.size() == 1, "expected one " + prefix + " jar in " + folder + ", found " + jars);
            return jars.getFirst();
        }
    }

    /** Copies a tree; regular files under lib/ are hard-linked when possible (the native jar is 112 MB). */
    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (List.of("lib", "models").contains(p.getParent().getFileName().toString())) { // large, never written: link
                    try {
                        Files.createLink(target, p);
                    } catch (IOException | UnsupportedOperationException e) {
                        Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
                    }
                } else {
                    Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }

    static void deleteTree(Path d) throws IOException {
        if (!Files.exists(d)) {
            return;
        }
        try (Stream<Path> s = Files.walk(d)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
