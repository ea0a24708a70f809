package org.fmsmo.plugin.ct;

import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.tck.CheckpointFormatConformance;

/** compressed-tensors against the checkpoint-format conformance kit. */
class CompressedTensorsConformanceTest extends CheckpointFormatConformance {

    @Override
    protected CheckpointFormatProvider provider() {
        return new CompressedTensorsFormat.Provider();
    }
}
