package org.fmsmo.plugin.cpu;

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
        return "reference CPU backend: int8 x int8 -> int32 GEMM with per-token/per-tensor activations; weight-only INT/FP8";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public DeployBackend create() {
        return new CpuReferenceBackend();
    }
}
