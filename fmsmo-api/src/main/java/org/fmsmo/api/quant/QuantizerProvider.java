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

    /** What a mode is for: a config's {@code qw_mode} offers the modes for weights, {@code qa_mode} those for activations. */
    @org.fmsmo.api.Experimental(since = "1.3")
    enum Use {
        WEIGHTS, ACTIVATIONS
    }

    /** What this mode quantizes; both by default. The host lists a mode under {@code qw_mode}, {@code qa_mode} or both accordingly. */
    @org.fmsmo.api.Experimental(since = "1.3")
    default java.util.Set<Use> uses() {
        return java.util.EnumSet.allOf(Use.class);
    }
}
