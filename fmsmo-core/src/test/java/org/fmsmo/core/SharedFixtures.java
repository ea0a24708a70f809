package org.fmsmo.core;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** The {@code ../shared/fixtures} folder: tests that need it skip with a message when it is absent. */
public final class SharedFixtures {

    private SharedFixtures() {
    }

    /** A path under {@code ../shared/fixtures}; skips the calling test when it does not exist. */
    public static Path require(String relative) {
        Path p = Path.of(System.getProperty("fmsmo.shared", "../../shared"), "fixtures", relative).toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.exists(p), "skipped: fixture " + p + " is absent (../shared is not mounted)");
        return p;
    }
}
