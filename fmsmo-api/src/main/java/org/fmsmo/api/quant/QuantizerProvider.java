package org.fmsmo.api.quant;

import org.fmsmo.api.Stable;
import org.fmsmo.api.plugin.NamedProvider;

/**
 * Creates quantizers of one mode. The {@link #name()} is the mode ({@code max}, {@code minmax},
 * {@code pact+}, {@code fp8_e4m3_scale}).
 */
@Stable(since = "1.0")
public interface QuantizerProvider extends NamedProvider {

    /** Whether {@link #create} accepts {@code spec}; cheap, never throws. */
    boolean supports(QuantSpec spec);

    /**
     * A new quantizer for one tensor role.
     *
     * @param spec not null
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} when
     *         {@link #supports} is false, naming the spec and what the mode accepts
     */
    Quantizer create(QuantSpec spec);
}
