package org.fmsmo.plugin.gptq;

import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code gptq}: Hessian-compensated weight quantization, layer by layer through the model. */
public final class GptqMethodProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "gptq";
    }

    @Override
    public String description() {
        return "GPTQ weight quantization (INT2-8, per channel or group, sym/asym, act-order), sequential through the blocks";
    }

    @Override
    public QuantMethod create() {
        return new GptqMethod();
    }
}
