package org.fmsmo.plugin.awq;

import java.util.List;
import org.fmsmo.api.plugin.ConfigKeySpec;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code awq+gptq}: AWQ's activation-aware scales, then GPTQ on the scaled stage (needs the gptq plugin). */
public final class AwqGptqMethodProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "awq+gptq";
    }

    @Override
    public String description() {
        return "AWQ's activation-aware scales folded into the model, then GPTQ on each scaled stage (the gptq plugin's step)";
    }

    @Override
    public List<ConfigKeySpec> configKeys() {
        return AwqMethodProvider.KEYS;
    }

    @Override
    public QuantMethod create() {
        return new AwqMethod(name(), true);
    }
}
