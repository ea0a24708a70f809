package org.fmsmo.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the command line says when its own flags cannot be parsed, and that every command has --help. */
class MainTest {

    private record Outcome(int status, String out, String err) {
    }

    private static Outcome run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Outcome(status, out.toString(), err.toString());
    }

    @Test
    void unparsableFlagsGiveOneErrorLineAndAHintNotTheUsage() {
        for (List<String> args : List.of(
                List.of("quantize", "--method", "rtn", "--output", "/tmp/x", "--seq-len", "1e9"),
                List.of("quantize", "--method", "rtn", "--output", "/tmp/x", "--seed", "abc"),
                List.of("quantize", "--output", "/tmp/x"),
                List.of("eval", "--model", "m", "--data", "d", "--no-such-flag"))) {
            Outcome o = run(args.toArray(String[]::new));
            assertEquals(2, o.status(), args + ": " + o.err());
            List<String> lines = o.err().lines().toList();
            assertEquals(1, lines.stream().filter(l -> l.startsWith("error: ")).count(), args + ": " + o.err());
            assertEquals(2, lines.size(), args + ": " + o.err());
            assertTrue(lines.get(1).contains("fmsmo " + args.getFirst() + " --help"), o.err());
            assertFalse(o.err().contains("Usage:"), args + ": " + o.err());
        }
        assertTrue(run("quantize", "--method", "rtn", "--output", "/tmp/x", "--seq-len", "1e9").err().contains("--seq-len"));
    }

    @Test
    void aPluginsDirThatIsNotAFolderIsRefused(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        java.nio.file.Path file = java.nio.file.Files.writeString(tmp.resolve("plugins.txt"), "x");
        for (java.nio.file.Path dir : List.of(tmp.resolve("none"), file)) {
            Outcome o = run("plugins", "--plugins-dir", dir.toString());
            assertEquals(2, o.status(), o.err());
            assertTrue(o.err().startsWith("error: --plugins-dir " + dir) && o.err().contains("expected a folder"), o.err());
        }
    }

    @Test
    void everyCommandHasHelp() {
        for (String command : List.of("quantize", "eval", "analyze", "plugins", "recipes", "bench", "synthesize", "import-onnx", "qdq")) {
            Outcome o = run(command, "--help");
            assertEquals(0, o.status(), command + ": " + o.err());
            assertTrue(o.out().contains("Usage: fmsmo " + command), command + ": " + o.out());
            assertTrue(o.err().isEmpty(), command + ": " + o.err());
        }
    }

    /** {@code fmsmo --help} lists each command by its first description line: a whole sentence, not one cut mid-way. */
    @Test
    void everyCommandIsListedWithACompleteSentence() {
        Outcome o = run("--help");
        assertEquals(0, o.status(), o.err());
        picocli.CommandLine cli = new picocli.CommandLine(new Main());
        for (var e : cli.getSubcommands().entrySet()) {
            if (e.getKey().equals("help")) {
                continue;
            }
            String first = e.getValue().getCommandSpec().usageMessage().description()[0];
            assertTrue(first.endsWith("."), "fmsmo " + e.getKey() + ": '" + first + "' is not a whole sentence");
            assertTrue(o.out().replaceAll("\\s+", " ").contains(first), "fmsmo --help lists " + e.getKey() + " as '" + first + "'");
        }
    }
}
