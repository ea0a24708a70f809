package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Opens a quantization report in headless Chromium (Debian's {@code chromium}, which .ci/run
 * installs) and reads back, from the page's own load handler, how many images it has and how
 * many decoded. Without Chromium the check is skipped with that reason printed, and the rest of
 * the calling test still runs.
 */
final class ReportBrowser {

    private ReportBrowser() {
    }

    static void assertOpensWithEveryImage(Path html, int images) throws Exception {
        Path chromium = List.of("/usr/bin/chromium", "/usr/bin/chromium-browser").stream().map(Path::of).filter(Files::isExecutable)
                .findFirst().orElse(null);
        if (chromium == null) {
            System.out.println("skipped: the report's browser check needs Debian's chromium (not installed here)");
            return;
        }
        Path profile = Files.createTempDirectory("chromium-profile");
        Process p = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
                "--virtual-time-budget=10000", "--dump-dom", html.toUri().toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String dom = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "chromium did not finish");
        Matcher m = Pattern.compile("data-images=\"(\\d+)\" data-decoded=\"(\\d+)\"").matcher(dom);
        assertTrue(m.find(), "the page's load handler ran in Chromium: " + dom.substring(0, Math.min(300, dom.length())));
        assertEquals(images, Integer.parseInt(m.group(1)), "images on the page");
        assertEquals(images, Integer.parseInt(m.group(2)), "images Chromium decoded");
    }
}
