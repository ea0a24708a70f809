package org.fmsmo.api.quant;

import org.fmsmo.api.Stable;

/** How a quantizer finds the clip range (α, β) its scale comes from. */
@Stable(since = "1.0")
public enum RangeSource {
    /** Minimum and maximum (or max |x| when symmetric) of the tensor or of what calibration observed. */
    MINMAX,
    /** Exponential moving average of per-batch minima and maxima during calibration. */
    MOVING_MINMAX,
    /** Percentiles of the observed values (default 0.1 / 99.9). */
    PERCENTILE,
    /** The clip minimising the mean squared quantization error. */
    MSE,
    /** The clip minimising the KL divergence between the histogram and its quantized version. */
    ENTROPY,
    /** Statistics-aware weight binning: α from E[w²] and E[|w|]. */
    SAWB,
    /** A trainable clip parameter (PACT, LSQ). */
    LEARNED,
    /** A clip given by the user. */
    FIXED,
    /** Computed from each input at run time (per-token activation quantization). */
    DYNAMIC
}
