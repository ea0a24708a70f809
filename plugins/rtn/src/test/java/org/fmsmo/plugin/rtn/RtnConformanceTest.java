package org.fmsmo.plugin.rtn;

import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.tck.QuantMethodConformance;

/** rtn against the quant-method conformance kit. */
class RtnConformanceTest extends QuantMethodConformance {

    @Override
    protected QuantMethodProvider provider() {
        return new RtnMethodProvider();
    }
}
