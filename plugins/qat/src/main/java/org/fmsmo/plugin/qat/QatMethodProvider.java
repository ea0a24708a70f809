package org.fmsmo.plugin.qat;

import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code qat}: quantization-aware training of the weights and the quantizers' clips. */
public final class QatMethodProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "qat";
    }

    @Override
    public String description() {
        return "QAT: calibrate, then train weights and clip parameters (AdamW, warm-up + cosine) on the host's objective (KL or embedding distillation, next-token)";
    }

    @Override
    public QuantMethod create() {
        return new QatMethod();
    }
}
