/**
 * The GPU deploy backends {@code cuda-int8} and {@code cuda-fp8}: PTX kernels built from this
 * module's {@code .cu} sources, run through the CUDA driver API ({@code libcuda.so.1}) called with
 * the FFM API. Nothing native is loaded until a backend is created.
 */
module org.fmsmo.kernels.cuda {
    requires org.fmsmo.api;

    provides org.fmsmo.api.deploy.DeployBackendProvider with org.fmsmo.kernels.cuda.CudaInt8Provider, org.fmsmo.kernels.cuda.CudaFp8Provider;
}
