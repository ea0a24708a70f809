package org.fmsmo.api.quant;

import org.fmsmo.api.Stable;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.plugin.NamedProvider;

/** Creates wrappers of one kind ({@code qlinear}). */
@Stable(since = "1.0")
public interface LayerWrapperProvider extends NamedProvider {

    /**
     * Wraps {@code layer}.
     *
     * @param layer           not null; must not itself be a {@link LayerWrapper}
     * @param weightQuantizer not null
     * @param inputQuantizer  null for weight-only quantization
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#INVALID_ARGUMENT} when
     *         {@code layer} is already wrapped
     */
    LayerWrapper wrap(LinearLayer layer, Quantizer weightQuantizer, Quantizer inputQuantizer);
}
