package org.fmsmo.plugin.rtn;

import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code rtn}: round-to-nearest weight quantization with any {@link org.fmsmo.api.quant.QuantSpec}. */
public final class RtnMethodProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "rtn";
    }

    @Override
    public String description() {
        return "round-to-nearest weight quantization (INT2-8 sym/asym, FP8; per tensor, channel or group)";
    }

    @Override
    public QuantMethod create() {
        return new RtnMethod();
    }
}
