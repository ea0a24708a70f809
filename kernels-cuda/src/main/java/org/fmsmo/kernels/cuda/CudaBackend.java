package org.fmsmo.kernels.cuda;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.BackendCapabilities;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;

/**
 * A GPU backend on device 0: the driver is initialised, the device's primary context retained,
 * and the kind's PTX module loaded (the driver compiles it for this GPU). Creation fails with the
 * driver's reason when there is no device, or when the GPU is older than the kernels need.
 */
final class CudaBackend implements DeployBackend {

    final CudaApi api;
    final GemmKind kind;
    final MemorySegment context;
    final MemorySegment quantizePerToken;
    final MemorySegment quantizeStatic;
    final MemorySegment gemm;
    final MemorySegment rescale;
    private final int device;
    private final MemorySegment module;
    private final String deviceName;
    private final int capability;
    private final BackendCapabilities capabilities;
    private boolean closed;

    CudaBackend(Path driver, GemmKind kind) {
        this.kind = kind;
        api = new CudaApi(driver);
        api.init();
        if (api.deviceCount() == 0) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, kind.backendName + ": the CUDA driver sees no GPU");
        }
        device = api.device(0);
        capability = 10 * api.attribute(CudaApi.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device)
                + api.attribute(CudaApi.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
        deviceName = api.deviceName(device);
        if (capability < kind.minCapability) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, kind.backendName + " needs compute capability "
                    + kind.minCapability / 10 + "." + kind.minCapability % 10 + " or newer; " + deviceName + " has "
                    + capability / 10 + "." + capability % 10);
        }
        context = api.retainPrimaryContext(device);
        api.setCurrent(context);
        module = api.loadModule(Kernels.ptx(kind.ptx));
        quantizePerToken = api.function(module, kind.quantizePerToken);
        quantizeStatic = api.function(module, kind.quantizeStatic);
        gemm = api.function(module, kind.gemm);
        rescale = api.function(module, kind.rescale);
        capabilities = kind.capabilities("cuda:0");
    }

    @Override
    public BackendCapabilities capabilities() {
        return capabilities;
    }

    @Override
    public PreparedLinear prepare(FrozenLinear layer) {
        capabilities.requireSupported(kind.backendName, layer);
        return new CudaLinear(this, layer);
    }

    @Override
    public Map<String, Object> diagnostics() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("device", deviceName);
        m.put("compute_capability", capability / 10 + "." + capability % 10);
        m.put("kernels", kind.ptx + " (nvcc " + Kernels.builtWith() + ")");
        return m;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            api.setCurrent(context);
            api.unloadModule(module);
        } finally {
            api.releasePrimaryContext(device);
        }
    }
}
