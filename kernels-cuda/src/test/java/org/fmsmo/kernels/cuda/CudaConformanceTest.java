package org.fmsmo.kernels.cuda;

import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.tck.DeployBackendConformance;
import org.junit.jupiter.api.Nested;

/**
 * The CUDA backends run the deploy-backend conformance kit: on a machine without a GPU only the
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

    @Nested
    class W4A16 extends DeployBackendConformance {
        @Override
        protected DeployBackendProvider provider() {
            return new CudaW4A16Provider();
        }

        /** Scales and activations are rounded to FP16 (2^-11 relative each), as GPTQ kernels do. */
        @Override
        protected double tolerance() {
            return 3e-3;
        }
    }
}
