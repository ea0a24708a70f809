package org.fmsmo.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few CUDA driver API functions the backends use, bound with the FFM API to
 * {@code libcuda.so.1}. The driver API is stable across CUDA versions (the GPU machines carry
 * CUDA 13; nothing here needs the CUDA runtime, cuBLAS or NVRTC). Every call's {@code CUresult}
 * is checked; a failure becomes an {@link FmsmoException} naming the call and the driver's error.
 */
final class CudaApi {

    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    /** CUtensorMapDataType values the kernels use. */
    static final int TENSOR_MAP_UINT8 = 0;
    static final int TENSOR_MAP_FLOAT16 = 6;
    private static final int TENSOR_MAP_SWIZZLE_128B = 3;
    private static final int TENSOR_MAP_L2_PROMOTION_256B = 3;
    /** A CUtensorMap: 128 opaque bytes, 64-byte aligned, passed to kernels by value. */
    static final long TENSOR_MAP_BYTES = 128;

    private final MethodHandle cuInit;
    private final MethodHandle cuDeviceGetCount;
    private final MethodHandle cuDeviceGet;
    private final MethodHandle cuDeviceGetAttribute;
    private final MethodHandle cuDeviceGetName;
    private final MethodHandle cuDevicePrimaryCtxRetain;
    private final MethodHandle cuDevicePrimaryCtxRelease;
    private final MethodHandle cuCtxSetCurrent;
    private final MethodHandle cuCtxSynchronize;
    private final MethodHandle cuModuleLoadData;
    private final MethodHandle cuModuleGetFunction;
    private final MethodHandle cuModuleUnload;
    private final MethodHandle cuMemAlloc;
    private final MethodHandle cuMemFree;
    private final MethodHandle cuMemcpyHtoD;
    private final MethodHandle cuMemcpyDtoH;
    private final MethodHandle cuLaunchKernel;
    private final MethodHandle cuGetErrorName;
    private final MethodHandle cuFuncSetAttribute;
    private final MethodHandle cuMemsetD32;
    private final MethodHandle cuEventCreate;
    private final MethodHandle cuEventRecord;
    private final MethodHandle cuEventSynchronize;
    private final MethodHandle cuEventElapsedTime;
    private final MethodHandle cuEventDestroy;
    private final MethodHandle cuMemsetD32Async;
    private final MethodHandle cuStreamCreate;
    private final MethodHandle cuStreamDestroy;
    private final MethodHandle cuStreamSynchronize;
    private final MethodHandle cuStreamBeginCapture;
    private final MethodHandle cuStreamEndCapture;
    private final MethodHandle cuGraphInstantiate;
    private final MethodHandle cuGraphLaunch;
    private final MethodHandle cuGraphExecDestroy;
    private final MethodHandle cuGraphDestroy;
    /** Absent from drivers before CUDA 12 (no Hopper TMA there). */
    private final MethodHandle cuTensorMapEncodeTiled;

    /** Loads the driver library (this is the point where native code enters the process). */
    CudaApi(Path library) {
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        cuInit = bind(lib, "cuInit", JAVA_INT);
        cuDeviceGetCount = bind(lib, "cuDeviceGetCount", ADDRESS);
        cuDeviceGet = bind(lib, "cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetAttribute = bind(lib, "cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceGetName = bind(lib, "cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDevicePrimaryCtxRetain = bind(lib, "cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRelease = bind(lib, "cuDevicePrimaryCtxRelease_v2", JAVA_INT);
        cuCtxSetCurrent = bind(lib, "cuCtxSetCurrent", ADDRESS);
        cuCtxSynchronize = bind(lib, "cuCtxSynchronize");
        cuModuleLoadData = bind(lib, "cuModuleLoadData", ADDRESS, ADDRESS);
        cuModuleGetFunction = bind(lib, "cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
        cuModuleUnload = bind(lib, "cuModuleUnload", ADDRESS);
        cuMemAlloc = bind(lib, "cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        cuMemFree = bind(lib, "cuMemFree_v2", JAVA_LONG);
        cuMemcpyHtoD = bind(lib, "cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemcpyDtoH = bind(lib, "cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuLaunchKernel = bind(lib, "cuLaunchKernel", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS);
        cuGetErrorName = bind(lib, "cuGetErrorName", JAVA_INT, ADDRESS);
        cuFuncSetAttribute = bind(lib, "cuFuncSetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuMemsetD32 = bind(lib, "cuMemsetD32_v2", JAVA_LONG, JAVA_INT, JAVA_LONG);
        cuEventCreate = bind(lib, "cuEventCreate", ADDRESS, JAVA_INT);
        cuEventRecord = bind(lib, "cuEventRecord", ADDRESS, ADDRESS);
        cuEventSynchronize = bind(lib, "cuEventSynchronize", ADDRESS);
        cuEventElapsedTime = bind(lib, "cuEventElapsedTime", ADDRESS, ADDRESS, ADDRESS);
        cuEventDestroy = bind(lib, "cuEventDestroy_v2", ADDRESS);
        cuMemsetD32Async = bind(lib, "cuMemsetD32Async", JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS);
        cuStreamCreate = bind(lib, "cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamDestroy = bind(lib, "cuStreamDestroy_v2", ADDRESS);
        cuStreamSynchronize = bind(lib, "cuStreamSynchronize", ADDRESS);
        cuStreamBeginCapture = bind(lib, "cuStreamBeginCapture_v2", ADDRESS, JAVA_INT);
        cuStreamEndCapture = bind(lib, "cuStreamEndCapture", ADDRESS, ADDRESS);
        cuGraphInstantiate = bind(lib, "cuGraphInstantiateWithFlags", ADDRESS, ADDRESS, JAVA_LONG);
        cuGraphLaunch = bind(lib, "cuGraphLaunch", ADDRESS, ADDRESS);
        cuGraphExecDestroy = bind(lib, "cuGraphExecDestroy", ADDRESS);
        cuGraphDestroy = bind(lib, "cuGraphDestroy", ADDRESS);
        cuTensorMapEncodeTiled = lib.find("cuTensorMapEncodeTiled").map(f -> Linker.nativeLinker().downcallHandle(f,
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                        JAVA_INT, JAVA_INT))).orElse(null);
    }

    private static MethodHandle bind(SymbolLookup lib, String name, ValueLayout... args) {
        MemorySegment symbol = lib.find(name).orElseThrow(() -> new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE,
                "the CUDA driver library has no function " + name + " (driver too old?)"));
        return Linker.nativeLinker().downcallHandle(symbol, FunctionDescriptor.of(JAVA_INT, args));
    }

    /** Runs one driver call and turns a non-zero {@code CUresult} into an exception. */
    private void check(String call, MethodHandle h, Object... args) {
        int result;
        try {
            result = (int) h.invokeWithArguments(args);
        } catch (Throwable t) {
            throw new FmsmoException(ErrorCode.INTERNAL, call + " could not be called: " + t, t);
        }
        if (result != 0) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, call + " failed: " + errorName(result) + " (" + result + ")");
        }
    }

    String errorName(int result) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int r = (int) cuGetErrorName.invokeExact(result, p);
            return r == 0 ? p.get(ADDRESS, 0).reinterpret(256).getString(0) : "CUDA error";
        } catch (Throwable t) {
            return "CUDA error";
        }
    }

    void init() {
        check("cuInit", cuInit, 0);
    }

    int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check("cuDeviceGetCount", cuDeviceGetCount, n);
            return n.get(JAVA_INT, 0);
        }
    }

    int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment d = a.allocate(JAVA_INT);
            check("cuDeviceGet", cuDeviceGet, d, ordinal);
            return d.get(JAVA_INT, 0);
        }
    }

    int attribute(int attribute, int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDeviceGetAttribute", cuDeviceGetAttribute, v, attribute, device);
            return v.get(JAVA_INT, 0);
        }
    }

    String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocate(256);
            check("cuDeviceGetName", cuDeviceGetName, name, 256, device);
            return name.getString(0);
        }
    }

    MemorySegment retainPrimaryContext(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ctx = a.allocate(ADDRESS);
            check("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain, ctx, device);
            return ctx.get(ADDRESS, 0);
        }
    }

    void releasePrimaryContext(int device) {
        check("cuDevicePrimaryCtxRelease", cuDevicePrimaryCtxRelease, device);
    }

    void setCurrent(MemorySegment context) {
        check("cuCtxSetCurrent", cuCtxSetCurrent, context);
    }

    void synchronize() {
        check("cuCtxSynchronize", cuCtxSynchronize);
    }

    /** Loads PTX (JIT-compiled by the driver for this GPU). */
    MemorySegment loadModule(String ptx) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment module = a.allocate(ADDRESS);
            check("cuModuleLoadData", cuModuleLoadData, module, a.allocateFrom(ptx));
            return module.get(ADDRESS, 0);
        }
    }

    /** Loads a cubin built for exactly this GPU's architecture. */
    MemorySegment loadModule(byte[] cubin) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment module = a.allocate(ADDRESS);
            MemorySegment image = a.allocate(cubin.length + 1L, 16);
            MemorySegment.copy(cubin, 0, image, ValueLayout.JAVA_BYTE, 0, cubin.length);
            check("cuModuleLoadData(cubin)", cuModuleLoadData, module, image);
            return module.get(ADDRESS, 0);
        }
    }

    /** Lets a kernel use more than the default 48 KiB of dynamic shared memory. */
    void allowSharedMemory(MemorySegment function, int bytes) {
        check("cuFuncSetAttribute", cuFuncSetAttribute, function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
    }

    boolean hasTensorMaps() {
        return cuTensorMapEncodeTiled != null;
    }

    /**
     * Encodes a TMA descriptor over a row-major [rows][rowElements] device array, read in boxes of
     * boxRows rows x 128 bytes with the 128-byte swizzle the wgmma kernels expect.
     *
     * @param into 128 bytes, 64-byte aligned
     */
    void encodeTensorMap(MemorySegment into, int dataType, long address, long rows, long rowElements, int boxRows) {
        int element = dataType == TENSOR_MAP_FLOAT16 ? 2 : 1;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dims = a.allocateFrom(JAVA_LONG, rowElements, rows);
            MemorySegment strides = a.allocateFrom(JAVA_LONG, rowElements * element);
            MemorySegment box = a.allocateFrom(JAVA_INT, 128 / element, boxRows);
            MemorySegment unit = a.allocateFrom(JAVA_INT, 1, 1);
            check("cuTensorMapEncodeTiled", cuTensorMapEncodeTiled, into, dataType, 2, MemorySegment.ofAddress(address), dims, strides, box,
                    unit, 0, TENSOR_MAP_SWIZZLE_128B, TENSOR_MAP_L2_PROMOTION_256B, 0);
        }
    }

    int multiprocessors(int device) {
        return attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
    }

    /** Sets count 32-bit words at a device pointer to value (asynchronously, on the default stream). */
    void memset32(long pointer, int value, long count) {
        check("cuMemsetD32", cuMemsetD32, pointer, value, count);
    }

    /** The same on a stream (NULL: the default stream), so that it can be captured into a graph. */
    void memset32(long pointer, int value, long count, MemorySegment stream) {
        check("cuMemsetD32Async", cuMemsetD32Async, pointer, value, count, stream);
    }

    /** A stream that synchronizes with the default stream, as the synchronous copies expect. */
    MemorySegment createStream() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(ADDRESS);
            check("cuStreamCreate", cuStreamCreate, s, 0);
            return s.get(ADDRESS, 0);
        }
    }

    void destroyStream(MemorySegment stream) {
        check("cuStreamDestroy", cuStreamDestroy, stream);
    }

    void synchronize(MemorySegment stream) {
        check("cuStreamSynchronize", cuStreamSynchronize, stream);
    }

    /** Starts recording the stream's launches into a graph (relaxed mode: host-side calls stay allowed). */
    void beginCapture(MemorySegment stream) {
        check("cuStreamBeginCapture", cuStreamBeginCapture, stream, 2);
    }

    /** Ends the capture and instantiates the graph: returns {graph, executable graph}. */
    MemorySegment[] endCapture(MemorySegment stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS);
            check("cuStreamEndCapture", cuStreamEndCapture, stream, g);
            MemorySegment exec = a.allocate(ADDRESS);
            check("cuGraphInstantiate", cuGraphInstantiate, exec, g.get(ADDRESS, 0), 0L);
            return new MemorySegment[] {g.get(ADDRESS, 0), exec.get(ADDRESS, 0)};
        }
    }

    void launchGraph(MemorySegment exec, MemorySegment stream) {
        check("cuGraphLaunch", cuGraphLaunch, exec, stream);
    }

    void destroyGraph(MemorySegment graph, MemorySegment exec) {
        check("cuGraphExecDestroy", cuGraphExecDestroy, exec);
        check("cuGraphDestroy", cuGraphDestroy, graph);
    }

    MemorySegment createEvent() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = a.allocate(ADDRESS);
            check("cuEventCreate", cuEventCreate, e, 0);
            return e.get(ADDRESS, 0);
        }
    }

    void recordEvent(MemorySegment event) {
        recordEvent(event, MemorySegment.NULL);
    }

    void recordEvent(MemorySegment event, MemorySegment stream) {
        check("cuEventRecord", cuEventRecord, event, stream);
    }

    /** Milliseconds between two recorded events, waiting for the second. */
    float elapsedMillis(MemorySegment start, MemorySegment end) {
        check("cuEventSynchronize", cuEventSynchronize, end);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ms = a.allocate(ValueLayout.JAVA_FLOAT);
            check("cuEventElapsedTime", cuEventElapsedTime, ms, start, end);
            return ms.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    void destroyEvent(MemorySegment event) {
        check("cuEventDestroy", cuEventDestroy, event);
    }

    MemorySegment function(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(ADDRESS);
            check("cuModuleGetFunction(" + name + ")", cuModuleGetFunction, f, module, a.allocateFrom(name));
            return f.get(ADDRESS, 0);
        }
    }

    void unloadModule(MemorySegment module) {
        check("cuModuleUnload", cuModuleUnload, module);
    }

    long malloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            check("cuMemAlloc(" + bytes + " bytes)", cuMemAlloc, p, Math.max(1, bytes));
            return p.get(JAVA_LONG, 0);
        }
    }

    void free(long pointer) {
        check("cuMemFree", cuMemFree, pointer);
    }

    void copyToDevice(long dst, MemorySegment src) {
        check("cuMemcpyHtoD", cuMemcpyHtoD, dst, src, src.byteSize());
    }

    void copyToHost(MemorySegment dst, long src) {
        check("cuMemcpyDtoH", cuMemcpyDtoH, dst, src, dst.byteSize());
    }

    /**
     * Launches a kernel on the default stream with a one-dimensional block.
     *
     * @param args each argument's value: {@link Long} for device pointers, {@link Integer}, {@link Float}
     */
    void launch(MemorySegment function, int gridX, int gridY, int blockX, Object... args) {
        launch3d(function, gridX, gridY, 1, blockX, 0, args);
    }

    /**
     * Launches a kernel on the default stream.
     *
     * @param sharedBytes dynamic shared memory
     * @param args each argument's value: {@link Long} for device pointers, {@link Integer}, {@link Float},
     *        or a {@link MemorySegment} whose bytes are the argument (a CUtensorMap passed by value)
     */
    void launch3d(MemorySegment function, int gridX, int gridY, int gridZ, int blockX, int sharedBytes, Object... args) {
        launchOn(MemorySegment.NULL, function, gridX, gridY, gridZ, blockX, sharedBytes, args);
    }

    /** {@link #launch3d} on a stream (NULL: the default stream). */
    void launchOn(MemorySegment stream, MemorySegment function, int gridX, int gridY, int gridZ, int blockX, int sharedBytes, Object... args) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(ADDRESS, args.length);
            for (int i = 0; i < args.length; i++) {
                MemorySegment value = switch (args[i]) {
                    case Long l -> a.allocateFrom(JAVA_LONG, l);
                    case Integer n -> a.allocateFrom(JAVA_INT, n);
                    case Float f -> a.allocateFrom(ValueLayout.JAVA_FLOAT, f);
                    case MemorySegment struct -> struct;
                    default -> throw new IllegalArgumentException("kernel argument " + args[i]);
                };
                params.setAtIndex(ADDRESS, i, value);
            }
            check("cuLaunchKernel", cuLaunchKernel, function, gridX, gridY, gridZ, blockX, 1, 1, sharedBytes, stream, params,
                    MemorySegment.NULL);
        }
    }
}
