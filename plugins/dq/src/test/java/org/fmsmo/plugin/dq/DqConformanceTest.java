package org.fmsmo.plugin.dq;

import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.tck.QuantMethodConformance;

/** DqMethod against the quant-method conformance kit, with the dq recipe. */
class DqConformanceTest extends QuantMethodConformance {

    @Override
    protected QuantMethodProvider provider() {
        return new DqMethodProvider();
    }

    @Override
    protected String recipe() {
        return "dq";
    }
}
