package org.fmsmo.kernels.cuda;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * GPU 0 with its primary context and the kernel modules loaded from this jar, on demand. It
 * knows nothing of DJL, so the GPU check ({@link GpuCheck}) runs the layers' own code on a
 * machine with nothing but a JDK runtime and the driver. One thread at a time.
 */
final class CudaDevice implements AutoCloseable {

    /** The Hopper cubin: wgmma and TMA exist only on sm_90a, and a cubin runs only on its exact architecture. */
    static final String HOPPER_CUBIN = "hopper_gemm.sm_90a.cubin";

    final CudaApi api;
    final int ordinal;
    final MemorySegment context;
    final String name;
    /** Compute capability × 10 (90 = sm_90). */
    final int capability;
    final int multiprocessors;
    private final Map<String, MemorySegment> modules = new LinkedHashMap<>();
    private final Map<String, MemorySegment> functions = new LinkedHashMap<>();
    private CublasLt cublasLt;
    private String cublasLtMissing;
    private boolean closed;

    CudaDevice(Path driver) {
        api = new CudaApi(driver);
        api.init();
        if (api.deviceCount() == 0) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, "the CUDA driver sees no GPU");
        }
        ordinal = api.device(0);
        capability = 10 * api.attribute(CudaApi.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, ordinal)
                + api.attribute(CudaApi.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, ordinal);
        name = api.deviceName(ordinal);
        multiprocessors = api.multiprocessors(ordinal);
        context = api.retainPrimaryContext(ordinal);
        api.setCurrent(context);
    }

    /** Whether the sm_90a kernels run here: a compute capability 9.0 GPU, a driver with TMA, and the cubin in the jar. */
    boolean hopper() {
        return capability == 90 && api.hasTensorMaps() && Kernels.has(HOPPER_CUBIN);
    }

    /** Copies host memory (heap arrays included) into a new device allocation; returns its pointer. */
    long upload(MemorySegment host) {
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment offHeap = a.allocate(host.byteSize(), 16); // the driver copies from native memory only
            offHeap.copyFrom(host);
            long p = api.malloc(host.byteSize());
            api.copyToDevice(p, offHeap);
            return p;
        }
    }

    String capabilityText() {
        return capability / 10 + "." + capability % 10;
    }

    /** A kernel from a PTX or cubin resource of this jar; shared memory above 48 KiB is allowed when asked for. */
    MemorySegment function(String resource, String kernel, int sharedBytes) {
        String key = resource + "/" + kernel;
        MemorySegment f = functions.get(key);
        if (f == null) {
            api.setCurrent(context);
            MemorySegment module = modules.computeIfAbsent(resource,
                    r -> r.endsWith(".cubin") ? api.loadModule(Kernels.bytes(r)) : api.loadModule(Kernels.ptx(r)));
            f = api.function(module, kernel);
            if (sharedBytes > 48 * 1024) {
                api.allowSharedMemory(f, sharedBytes);
            }
            functions.put(key, f);
        }
        return f;
    }

    MemorySegment function(String resource, String kernel) {
        return function(resource, kernel, 0);
    }

    /** cuBLASLt, loaded on first use; empty (with {@link #cublasLtMissing()} saying why) when it cannot be. */
    synchronized java.util.Optional<CublasLt> cublasLt() {
        if (cublasLt == null && cublasLtMissing == null) {
            java.util.Optional<Path> lib = CublasLt.find();
            if (lib.isEmpty()) {
                cublasLtMissing = "libcublasLt.so.13/.12 not found (LD_LIBRARY_PATH, /usr/local/cuda, system folders, PyTorch's nvidia wheels)";
            } else {
                try {
                    cublasLt = new CublasLt(this, lib.get());
                } catch (RuntimeException | LinkageError e) {
                    cublasLtMissing = "cannot use " + lib.get() + ": " + e.getMessage();
                }
            }
        }
        return java.util.Optional.ofNullable(cublasLt);
    }

    String cublasLtMissing() {
        return cublasLtMissing;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (cublasLt != null) {
            cublasLt.close();
        }
        try {
            api.setCurrent(context);
            for (MemorySegment m : modules.values()) {
                api.unloadModule(m);
            }
        } finally {
            api.releasePrimaryContext(ordinal);
        }
    }
}
