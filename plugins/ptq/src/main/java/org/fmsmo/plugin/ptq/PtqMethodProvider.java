package org.fmsmo.plugin.ptq;

import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code ptq}: post-training quantization: static activation ranges from calibration (any observer), weights frozen per the plan. */
public final class PtqMethodProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "ptq";
    }

    @Override
    public String description() {
        return "post-training quantization: static activation ranges from calibration (any observer), weights frozen per the plan";
    }

    @Override
    public QuantMethod create() {
        return new PtqMethod();
    }
}
