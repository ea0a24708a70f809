package org.fmsmo.api.quant;

import org.fmsmo.api.Stable;

/** Which elements share one scale (and zero point). */
@Stable(since = "1.0")
public enum Granularity {
    /** One scale for the whole tensor. */
    TENSOR,
    /** One scale per output channel: per row of a {@code [out, in]} weight. */
    CHANNEL,
    /** One scale per row and per group of {@code groupSize} consecutive input columns; the last group may be shorter. */
    GROUP,
    /** One scale per row of an activation matrix {@code [tokens, features]}, computed at run time. */
    TOKEN
}
