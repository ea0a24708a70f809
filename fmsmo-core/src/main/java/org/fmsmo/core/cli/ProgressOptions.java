package org.fmsmo.core.cli;

import java.io.PrintWriter;
import org.fmsmo.api.quant.ProgressListener;
import picocli.CommandLine.Option;

/**
 * The progress flag of commands that do long work: a progress bar on a terminal, periodic progress
 * lines on stderr elsewhere (CI, logs, pipes), or none with {@code --quiet}.
 */
final class ProgressOptions {

    @Option(names = "--quiet", description = "Print no progress bar, progress lines or notes on stderr (errors still are).")
    boolean quiet;

    /** Where the command reports progress: a bar only when the process talks to a terminal and writes to the real stderr. */
    ProgressListener listener(PrintWriter err) {
        if (quiet) {
            return ProgressListener.NONE;
        }
        java.io.Console console = System.console();
        if (console != null && console.isTerminal() && System.getenv("TERM") != null && !"dumb".equals(System.getenv("TERM"))) {
            String charset = java.nio.charset.Charset.defaultCharset().name();
            return new TerminalProgress(System.err, !charset.equalsIgnoreCase("UTF-8"));
        }
        return new ConsoleProgress(err, 2000);
    }
}
