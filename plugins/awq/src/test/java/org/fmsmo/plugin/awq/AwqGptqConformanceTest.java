package org.fmsmo.plugin.awq;

import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.tck.QuantMethodConformance;

/** awq+gptq against the quant-method conformance kit (gptq is on the test class path, as in the distribution). */
class AwqGptqConformanceTest extends QuantMethodConformance {

    @Override
    protected QuantMethodProvider provider() {
        return new AwqGptqMethodProvider();
    }

    @Override
    protected java.util.Map<String, Object> settings() {
        return java.util.Map.of("nbits_a", 32, "qw_spec", "int4-asym-group32", "qw_mode", "minmaxperGp");
    }
}
