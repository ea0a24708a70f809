package org.fmsmo.kernels.cuda;

import java.nio.file.Path;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.Availability;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.DeployBackendProvider;

/**
 * The {@code cuda-w4a16} backend: weight-only 4-bit layers (GPTQ, compressed-tensors
 * pack-quantized) on the GPU. {@link #availability()} loads nothing; {@link #create()} starts
 * the driver and fails with its reason.
 */
public final class CudaW4A16Provider implements DeployBackendProvider {

    @Override
    public String name() {
        return CudaW4A16Backend.NAME;
    }

    @Override
    public String description() {
        return "W4A16: 4-bit weight codes with FP16 group scales (optional zero points and act-order), dequantized in registers; "
                + "FP16 tensor cores: an mma.sync GEMV for 1-16 tokens, on Hopper dequantize + wgmma FP16 GEMM for more (PTX sm_80+, sm_90a cubin)";
    }

    @Override
    public Availability availability() {
        Optional<String> noKernels = Kernels.missing();
        return noKernels.isPresent() ? Availability.no(noKernels.get()) : CudaDriver.availability();
    }

    @Override
    public DeployBackend create() {
        Availability a = availability();
        if (!a.available()) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, name() + " is unavailable: " + a.reason());
        }
        Path driver = CudaDriver.find().orElseThrow();
        try {
            return new CudaW4A16Backend(driver);
        } catch (FmsmoException e) {
            throw e;
        } catch (RuntimeException | LinkageError e) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, name() + ": cannot use " + driver + ": " + e, e);
        }
    }
}
