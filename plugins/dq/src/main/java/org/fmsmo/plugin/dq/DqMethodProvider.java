package org.fmsmo.plugin.dq;

import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code dq}: SmoothQuant-style direct quantization: smoothing scales from calibration, folded into norms, weights per channel, activations per token or static. */
public final class DqMethodProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "dq";
    }

    @Override
    public String description() {
        return "SmoothQuant-style direct quantization: smoothing scales from calibration, folded into norms, weights per channel, activations per token or static";
    }

    @Override
    public QuantMethod create() {
        return new DqMethod();
    }
}
