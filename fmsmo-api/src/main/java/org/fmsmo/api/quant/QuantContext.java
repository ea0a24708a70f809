package org.fmsmo.api.quant;

import org.fmsmo.api.Experimental;
import org.fmsmo.api.Stable;
import org.fmsmo.api.model.QuantizableModel;

/**
 * What the host gives a {@link QuantMethod}: the model to change in place, the plan, the config,
 * and access to the other installed providers. Implemented by the host; plugins only call it.
 * Not thread-safe.
 */
@Stable(since = "1.0")
public interface QuantContext {

    /** The model, changed in place by the method. */
    @Experimental(since = "1.0")
    QuantizableModel model();

    /** Which layers to quantize and how. */
    QuantPlan plan();

    /** The run's settings. */
    QuantConfig config();

    /**
     * A new quantizer for {@code spec} from an installed {@link QuantizerProvider}.
     *
     * @param mode the quantizer mode ({@code max}, {@code minmax}); null picks the default mode
     *             for the spec (symmetric: {@code max}, asymmetric: {@code minmax})
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNKNOWN_NAME} listing the
     *         installed modes, or {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC}
     */
    Quantizer quantizer(String mode, QuantSpec spec);

    /**
     * Wraps a layer with the host's wrapper for linear layers ({@code qlinear}).
     *
     * @param inputQuantizer null for weight-only quantization
     */
    LayerWrapper wrap(String layerName, Quantizer weightQuantizer, Quantizer inputQuantizer);

    /** Where to report progress; never null. */
    ProgressListener progress();
}
