package org.fmsmo.kernels.cuda;

/** The {@code cuda-int8} backend; see {@link GemmKind#INT8}. */
public final class CudaInt8Provider extends CudaProvider {

    public CudaInt8Provider() {
        super(GemmKind.INT8);
    }
}
