/**
 * The GPU deploy backends {@code cuda-int8}, {@code cuda-fp8} (W8A8) and {@code cuda-w4a16}
 * (weight-only 4-bit): kernels built from this module's {@code .cu} sources (PTX for sm_80+, an
 * sm_90a cubin with the Hopper wgmma/TMA GEMMs), run through the CUDA driver API
 * ({@code libcuda.so.1}) called with the FFM API. Nothing native is loaded until a backend is created.
 */
module org.fmsmo.kernels.cuda {
    requires org.fmsmo.api;

    provides org.fmsmo.api.deploy.DeployBackendProvider with org.fmsmo.kernels.cuda.CudaInt8Provider, org.fmsmo.kernels.cuda.CudaFp8Provider,
            org.fmsmo.kernels.cuda.CudaW4A16Provider;
}
