package org.fmsmo.core.cli;

import java.io.PrintWriter;
import java.util.Locale;
import org.fmsmo.api.quant.ProgressListener;

/**
 * Progress as periodic lines on a terminal or log: done/total, rate and ETA, at most one line
 * every {@code intervalMillis} plus one at the end. Plain lines rather than a redrawn bar, so
 * that logs of CI runs and pipes stay readable.
 */
public final class ConsoleProgress implements ProgressListener {

    private final PrintWriter out;
    private final long intervalNanos;
    private String task;
    private String unit;
    private long total;
    private long done;
    private long start;
    private long lastPrint;
    private String item;

    public ConsoleProgress(PrintWriter out, long intervalMillis) {
        this.out = out;
        this.intervalNanos = intervalMillis * 1_000_000L;
    }

    @Override
    public void begin(String task, long total, String unit) {
        this.task = task;
        this.total = total;
        this.unit = unit;
        this.done = 0;
        this.start = System.nanoTime();
        this.lastPrint = start;
        this.item = null;
    }

    @Override
    public void item(String name) {
        this.item = name;
    }

    @Override
    public void note(String message) {
        out.println("note: " + message);
        out.flush();
    }

    @Override
    public void advance(long n) {
        done += n;
        long now = System.nanoTime();
        if (now - lastPrint >= intervalNanos) {
            lastPrint = now;
            print(now, false);
        }
    }

    @Override
    public void end() {
        if (task != null) {
            print(System.nanoTime(), true);
            task = null;
        }
    }

    private void print(long now, boolean last) {
        double seconds = Math.max(1e-9, (now - start) / 1e9);
        double rate = done / seconds;
        StringBuilder line = new StringBuilder().append(task).append(": ");
        if (total > 0) {
            line.append(String.format(Locale.ROOT, "%d/%d %s (%.0f%%)", done, total, unit, 100.0 * done / total));
        } else {
            line.append(done).append(' ').append(unit);
        }
        line.append(String.format(Locale.ROOT, ", %.1f %s/s", rate, unit));
        if (last) {
            line.append(String.format(Locale.ROOT, ", %.1f s", seconds));
        } else if (total > 0 && rate > 0) {
            line.append(String.format(Locale.ROOT, ", ETA %.0f s", (total - done) / rate));
        }
        if (item != null && !last) {
            line.append(" · ").append(item);
        }
        out.println(line);
        out.flush();
    }
}
