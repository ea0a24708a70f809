package org.fmsmo.plugin.outlier;

import java.util.Set;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.QuantizerProvider;

/** {@code llm_int8}: dynamic per-token symmetric INT2-8 of the input channels under the threshold; the others stay float. */
public final class LlmInt8QuantizerProvider implements QuantizerProvider {

    @Override
    public String name() {
        return LlmInt8Quantizer.MODE;
    }

    @Override
    public String description() {
        return "LLM.int8 activations: per batch, input channels with any |x| at or past the threshold (6) stay float; the rest dynamic"
                + " per-token symmetric INT2-8";
    }

    @Override
    public boolean supports(QuantSpec spec) {
        return spec.type() == QuantType.INT && spec.symmetric() && spec.granularity() == Granularity.TOKEN;
    }

    @Override
    public Quantizer create(QuantSpec spec) {
        if (!supports(spec)) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "quantizer mode " + name() + " takes symmetric per-token INT specs"
                    + " (int8-sym-token-dynamic), found " + spec);
        }
        return new LlmInt8Quantizer(spec);
    }

    @Override
    public Set<Use> uses() {
        return Set.of(Use.ACTIVATIONS);
    }
}
