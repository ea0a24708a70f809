package org.fmsmo.plugin.ptq;

import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.tck.QuantMethodConformance;

/** PtqMethod against the quant-method conformance kit, with the ptq_int8 recipe. */
class PtqConformanceTest extends QuantMethodConformance {

    @Override
    protected QuantMethodProvider provider() {
        return new PtqMethodProvider();
    }

    @Override
    protected String recipe() {
        return "ptq_int8";
    }
}
