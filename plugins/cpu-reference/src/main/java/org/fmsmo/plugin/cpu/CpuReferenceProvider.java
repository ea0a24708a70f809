package org.fmsmo.plugin.cpu;

import java.util.Map;
import org.fmsmo.api.deploy.Availability;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.DeployBackendProvider;

/** {@code cpu-reference}: integer execution on the CPU in plain Java; available everywhere. */
public final class CpuReferenceProvider implements DeployBackendProvider {

    @Override
    public String name() {
        return "cpu-reference";
    }

    @Override
    public String description() {
        return "reference CPU backend: int8 x int8 -> int32 GEMM (Vector API, tiled, multi-threaded; accumulator emulation), FP8 e4m3 with FP32 accumulation, weight-only INT/FP8";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public DeployBackend create() {
        return new CpuReferenceBackend(Accumulation.EXACT);
    }

    @Override
    public Map<String, String> options() {
        return Accumulation.OPTIONS;
    }

    /** Options emulate a narrower integer accumulator; see {@link Accumulation}. */
    @Override
    public DeployBackend create(Map<String, String> options) {
        return new CpuReferenceBackend(Accumulation.parse(options));
    }
}
