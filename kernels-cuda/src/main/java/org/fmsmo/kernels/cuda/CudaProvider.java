package org.fmsmo.kernels.cuda;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.Availability;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.DeployBackendProvider;

/**
 * What the two GPU providers share. {@link #availability()} loads nothing: it checks that the
 * build produced kernels and that {@code libcuda.so.1} exists. Whether a GPU is really there is
 * only known once {@link #create()} has initialised the driver; its failure names the reason.
 */
abstract class CudaProvider implements DeployBackendProvider {

    private final GemmKind kind;

    CudaProvider(GemmKind kind) {
        this.kind = kind;
    }

    @Override
    public String name() {
        return kind.backendName;
    }

    @Override
    public String description() {
        return kind.description;
    }

    @Override
    public Availability availability() {
        Optional<String> noKernels = Kernels.missing();
        if (noKernels.isPresent()) {
            return Availability.no(noKernels.get());
        }
        return CudaDriver.availability();
    }

    @Override
    public Map<String, String> options() {
        return CudaBackend.options(kind);
    }

    @Override
    public DeployBackend create() {
        return create(Map.of());
    }

    @Override
    public DeployBackend create(Map<String, String> options) {
        CudaBackend.validate(kind, options);
        Availability a = availability();
        if (!a.available()) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, kind.backendName + " is unavailable: " + a.reason());
        }
        Path driver = CudaDriver.find().orElseThrow();
        try {
            return new CudaBackend(driver, kind, options);
        } catch (FmsmoException e) {
            throw e;
        } catch (RuntimeException | LinkageError e) {
            // e.g. native access refused by the JVM, or a library that is not a CUDA driver
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, kind.backendName + ": cannot use " + driver + ": " + e, e);
        }
    }
}
