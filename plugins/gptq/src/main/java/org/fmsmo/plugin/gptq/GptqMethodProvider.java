package org.fmsmo.plugin.gptq;

import java.util.List;
import org.fmsmo.api.plugin.ConfigKeySpec;
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
    public List<ConfigKeySpec> configKeys() {
        return List.of(
                ConfigKeySpec.number("damp_percent", 1e-6, 0.999, "GPTQ dampening: λ in H + λ·mean(diag H)·I (raised ×10 on a failed factorisation)"),
                ConfigKeySpec.flag("desc_act", "GPTQ act-order: quantize columns by descending Hessian diagonal (records g_idx)"),
                ConfigKeySpec.flag("static_groups", "GPTQ: fix every group's scale from the original weights before any update"),
                ConfigKeySpec.integer("gptq_block_size", 1, 1 << 16, "GPTQ columns per lazy-update block"));
    }

    @Override
    public QuantMethod create() {
        return new GptqMethod();
    }
}
