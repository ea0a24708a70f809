package org.fmsmo.plugin.outlier;

import java.util.List;
import org.fmsmo.api.plugin.ConfigKeySpec;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code llm_int8}: W8A8 with LLM.int8's outlier decomposition (input channels past a threshold computed in float). */
public final class LlmInt8MethodProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "llm_int8";
    }

    @Override
    public String description() {
        return "LLM.int8 outlier decomposition: INT8 weights per channel, inputs per token in INT8 except the channels with a value past"
                + " llm_int8_threshold in the batch, which stay float";
    }

    @Override
    public List<ConfigKeySpec> configKeys() {
        return List.of(ConfigKeySpec.number("llm_int8_threshold", 1e-3, 1e6,
                "llm_int8: an input channel with any |x| at or past this in a batch stays float (6, bitsandbytes' default)"));
    }

    @Override
    public QuantMethod create() {
        return new LlmInt8Method();
    }
}
