package org.fmsmo.api.quant;

import org.fmsmo.api.Stable;

/**
 * Where long work reports progress: the host shows a bar or periodic lines with rate and ETA.
 * Calls come from the working thread; implementations must be cheap.
 */
@Stable(since = "1.0")
public interface ProgressListener {

    /** A listener that ignores everything. */
    ProgressListener NONE = new ProgressListener() {
        @Override
        public void begin(String task, long total, String unit) {
        }

        @Override
        public void advance(long done) {
        }

        @Override
        public void end() {
        }
    };

    /**
     * A task starts.
     *
     * @param task  what is being done ({@code rtn}); not null
     * @param total units of work, or -1 if unknown
     * @param unit  what one unit is ({@code layers}, {@code tokens}); not null
     */
    void begin(String task, long total, String unit);

    /** {@code done} more units finished. */
    void advance(long done);

    /** The current task ended (normally or not). */
    void end();

    /** Names the item now being worked on (a layer), for listeners that show it; optional. */
    default void item(String name) {
    }

    /** Something the user should know that is not an error (a run resumed, a dead run's folder removed); optional. */
    default void note(String message) {
    }

    /**
     * Whether the user asked to stop. Methods check it between units of work and then throw
     * {@link java.util.concurrent.CancellationException} without writing partial output.
     */
    default boolean isCancelled() {
        return Thread.currentThread().isInterrupted();
    }
}
