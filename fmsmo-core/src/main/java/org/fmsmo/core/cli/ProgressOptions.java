package org.fmsmo.core.cli;

import java.io.PrintWriter;
import org.fmsmo.api.quant.ProgressListener;
import picocli.CommandLine.Option;

/** The progress flag of commands that do long work: periodic progress lines on stderr, or none with {@code --quiet}. */
final class ProgressOptions {

    @Option(names = "--quiet", description = "Print no progress lines or notes on stderr (errors still are).")
    boolean quiet;

    /** Where the command reports progress. */
    ProgressListener listener(PrintWriter err) {
        return quiet ? ProgressListener.NONE : new ConsoleProgress(err, 2000);
    }
}
