package org.fmsmo.plugin.ct;

import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.tck.CheckpointFormatConformance;

/** The gptq checkpoint format against the checkpoint-format conformance kit. */
class GptqFormatConformanceTest extends CheckpointFormatConformance {

    @Override
    protected CheckpointFormatProvider provider() {
        return new GptqFormat.Provider();
    }
}
