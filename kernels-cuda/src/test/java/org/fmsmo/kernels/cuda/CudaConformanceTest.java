package org.fmsmo.kernels.cuda;

import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.tck.DeployBackendConformance;
import org.junit.jupiter.api.Nested;

/**
 * Both CUDA backends run the deploy-backend conformance kit: on a machine without a GPU only the
 * name and the refusal to start are checked, and the rest is skipped with the backend's reason.
 */
class CudaConformanceTest {

    @Nested
    class Int8 extends DeployBackendConformance {
        @Override
        protected DeployBackendProvider provider() {
            return new CudaInt8Provider();
        }
    }

    @Nested
    class Fp8 extends DeployBackendConformance {
        @Override
        protected DeployBackendProvider provider() {
            return new CudaFp8Provider();
        }
    }
}
