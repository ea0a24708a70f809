package org.fmsmo.core.model;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/** Whether a command processes a model layer by layer ({@link StreamedModel}) or loads it whole. */
public enum Streaming {
    /** Stream when the model and the work allow it, else load the whole model. */
    AUTO,
    /** Stream, or fail saying why not. */
    ON,
    /** Load the whole model. */
    OFF;

    /** What a whole model's FLOAT32 weights may take before a command must stream it: three quarters of physical memory. */
    public static long defaultMemoryBudget() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize() / 4 * 3;
        }
        return Long.MAX_VALUE;
    }

    /**
     * The mode a command-line value names.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} naming {@code flag} for anything but auto, on, off
     */
    public static Streaming parse(String flag, String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "auto" -> AUTO;
            case "on" -> ON;
            case "off" -> OFF;
            default -> throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, flag + " " + value + ": expected auto, on or off");
        };
    }
}
