package org.fmsmo.core.cli;

import java.io.PrintStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.fmsmo.api.quant.ProgressListener;

/**
 * Progress as a bar redrawn in place (the {@code progressbar} library): done/total, percent, rate
 * and ETA, with the current item (a layer's name) beside it. For terminals only: where stderr is
 * a file or a pipe, {@link ConsoleProgress}'s periodic lines are used instead (see
 * {@link ProgressOptions}). A note is printed on its own line above the bar.
 */
final class TerminalProgress implements ProgressListener {

    private final PrintStream out;
    private final boolean ascii;
    private ProgressBar bar;

    /** @param ascii plain ASCII blocks (for terminals without Unicode) */
    TerminalProgress(PrintStream out, boolean ascii) {
        this.out = out;
        this.ascii = ascii;
    }

    @Override
    public void begin(String task, long total, String unit) {
        end();
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total > 0 ? total : -1).setUnit(" " + unit, 1).showSpeed()
                .setStyle(ascii ? ProgressBarStyle.ASCII : ProgressBarStyle.UNICODE_BLOCK).setUpdateIntervalMillis(250)
                .setConsumer(new ConsoleProgressBarConsumer(out)).build();
    }

    @Override
    public void item(String name) {
        if (bar != null) {
            bar.setExtraMessage(" " + name);
        }
    }

    @Override
    public void advance(long n) {
        if (bar != null) {
            bar.stepBy(n);
        }
    }

    @Override
    public void note(String message) {
        synchronized (out) {
            out.print("\r\033[K"); // clear the bar's line; it is drawn again below the note
            out.println("note: " + message);
            out.flush();
        }
    }

    @Override
    public void end() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
