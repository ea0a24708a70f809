package org.fmsmo.plugin.awq;

import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.tck.QuantMethodConformance;

/** awq against the quant-method conformance kit. */
class AwqConformanceTest extends QuantMethodConformance {

    @Override
    protected QuantMethodProvider provider() {
        return new AwqMethodProvider();
    }

    /** Weight-only INT4 in groups of 32 (the kit model's widths divide by 8; its narrowest is 64), as the CLI sets for awq. */
    @Override
    protected java.util.Map<String, Object> settings() {
        return java.util.Map.of("nbits_a", 32, "qw_spec", "int4-sym-group32", "qw_mode", "maxfullperGp");
    }
}
