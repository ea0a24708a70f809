package org.fmsmo.kernels.cuda;

/** The {@code cuda-fp8} backend; see {@link GemmKind#FP8}. */
public final class CudaFp8Provider extends CudaProvider {

    public CudaFp8Provider() {
        super(GemmKind.FP8);
    }
}
