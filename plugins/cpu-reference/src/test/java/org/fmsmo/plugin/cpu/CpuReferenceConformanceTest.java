package org.fmsmo.plugin.cpu;

import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.tck.DeployBackendConformance;

/** The reference backend passes the deploy-backend conformance kit. */
class CpuReferenceConformanceTest extends DeployBackendConformance {

    @Override
    protected DeployBackendProvider provider() {
        return new CpuReferenceProvider();
    }
}
