package org.fmsmo.core;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** The {@code ../shared/fixtures} folder: tests that need it skip with a message when it is absent. */
public final class SharedFixtures {

    private SharedFixtures() {
    }

    /** A path under {@code ../shared/fixtures}, which may not exist. */
    public static Path path(String relative) {
        return Path.of(System.getProperty("fmsmo.shared", "../../shared"), "fixtures", relative).toAbsolutePath().normalize();
    }

    /** A path under {@code ../shared/fixtures}; skips the calling test, with the reason, when it does not exist. */
    public static Path require(String relative) {
        Path p = path(relative);
        if (!Files.exists(p)) {
            String reason = "skipped: fixture " + p + " is absent (../shared is not mounted)";
            System.out.println(reason); // Surefire keeps assumption messages in its reports; this puts them in the build log
            Assumptions.abort(reason);
        }
        return p;
    }
}
