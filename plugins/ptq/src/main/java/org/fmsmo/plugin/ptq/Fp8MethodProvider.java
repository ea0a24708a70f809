package org.fmsmo.plugin.ptq;

import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantType;

/**
 * {@code fp8}: W8A8 FP8 e4m3 — weights with a static scale per output channel, activations per
 * token at run time (the {@code fp8_dynamic} recipe) or per tensor from calibration
 * ({@code fp8_static}). It is post-training quantization restricted to e4m3 specs, so a plan that
 * asks for anything else is refused rather than silently written as INT.
 */
public final class Fp8MethodProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "fp8";
    }

    @Override
    public String description() {
        return "FP8 e4m3 W8A8: per-channel weights, per-token dynamic or calibrated per-tensor activations";
    }

    @Override
    public QuantMethod create() {
        QuantMethod ptq = new PtqMethod();
        return new QuantMethod() {
            @Override
            public boolean perBlock() {
                return ptq.perBlock();
            }

            @Override
            public org.fmsmo.api.quant.QuantReport quantize(org.fmsmo.api.quant.QuantContext context) {
                for (LayerDecision d : context.plan().quantized()) {
                    boolean weightOk = d.weightSpec().type() == QuantType.FP8_E4M3;
                    boolean inputOk = d.inputSpec() == null || d.inputSpec().type() == QuantType.FP8_E4M3;
                    if (!weightOk || !inputOk) {
                        throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "fp8 quantizes to FP8 e4m3; layer " + d.name() + " is planned with weights "
                                + d.weightSpec() + " and activations " + d.inputSpec() + " (use recipe fp8_dynamic or fp8_static)");
                    }
                }
                return ptq.quantize(context);
            }
        };
    }
}
