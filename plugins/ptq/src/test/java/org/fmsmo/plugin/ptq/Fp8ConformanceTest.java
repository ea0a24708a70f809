package org.fmsmo.plugin.ptq;

import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.tck.QuantMethodConformance;

/** Fp8Method against the quant-method conformance kit, with the fp8_dynamic recipe. */
class Fp8ConformanceTest extends QuantMethodConformance {

    @Override
    protected QuantMethodProvider provider() {
        return new Fp8MethodProvider();
    }

    @Override
    protected String recipe() {
        return "fp8_dynamic";
    }
}
