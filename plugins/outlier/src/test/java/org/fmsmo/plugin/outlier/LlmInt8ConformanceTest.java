package org.fmsmo.plugin.outlier;

import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.tck.QuantMethodConformance;

/** llm_int8 against the quant-method conformance kit: W8A8, INT8 weights per channel. */
class LlmInt8ConformanceTest extends QuantMethodConformance {

    @Override
    protected QuantMethodProvider provider() {
        return new LlmInt8MethodProvider();
    }

    @Override
    protected java.util.List<org.fmsmo.api.quant.QuantizerProvider> quantizers() {
        return java.util.List.of(new LlmInt8QuantizerProvider());
    }

    @Override
    protected java.util.Map<String, Object> settings() {
        return java.util.Map.of("nbits_w", 8, "qw_mode", "maxperCh", "nbits_a", 8, "llm_int8_threshold", 1.0);
    }
}
