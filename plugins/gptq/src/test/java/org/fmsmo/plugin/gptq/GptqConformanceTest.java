package org.fmsmo.plugin.gptq;

import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.tck.QuantMethodConformance;

/** gptq against the quant-method conformance kit. */
class GptqConformanceTest extends QuantMethodConformance {

    @Override
    protected QuantMethodProvider provider() {
        return new GptqMethodProvider();
    }

    /** GPTQ quantizes weights; activations stay in float (as the CLI sets for gptq). */
    @Override
    protected java.util.Map<String, Object> settings() {
        return java.util.Map.of("nbits_a", 32);
    }
}
