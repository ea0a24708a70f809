/**
 * CUDA kernels and the GPU deploy backends. Nothing native is loaded until a backend is created;
 * {@link org.fmsmo.kernels.cuda.CudaDriver} only looks for the driver library.
 */
module org.fmsmo.kernels.cuda {
    requires org.fmsmo.api;

    exports org.fmsmo.kernels.cuda;
}
