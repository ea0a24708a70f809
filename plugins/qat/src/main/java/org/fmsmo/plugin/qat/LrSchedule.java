package org.fmsmo.plugin.qat;

import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * The factor on the base learning rates at a step: linear warm-up from 1/(warmup+1) to 1 over
 * {@code warmup} steps, then {@code cosine} (to 0 at the last step: ½(1 + cos πp)), {@code linear}
 * (1 − p) or {@code constant}, with p the fraction of the post-warm-up steps done.
 */
record LrSchedule(String kind, long warmup, long total) {

    LrSchedule {
        if (!kind.equals("cosine") && !kind.equals("linear") && !kind.equals("constant")) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "qat_schedule '" + kind + "': expected cosine, linear or constant");
        }
        if (warmup < 0 || total < 1 || warmup >= total && total > 1) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "qat_warmup_steps " + warmup + " must be below qat_steps " + total);
        }
    }

    /** @param step 0-based optimizer step */
    double factor(long step) {
        if (step < warmup) {
            return (step + 1) / (double) (warmup + 1);
        }
        double p = total - warmup <= 1 ? 0 : (step - warmup) / (double) (total - warmup - 1);
        return switch (kind) {
            case "cosine" -> 0.5 * (1 + Math.cos(Math.PI * p));
            case "linear" -> 1 - p;
            default -> 1;
        };
    }
}
