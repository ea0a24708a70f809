package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * Staging memory from the C heap ({@code malloc}/{@code free}). {@link Arena#allocate} would count
 * against the JVM's direct-memory limit, which defaults to the heap size: a single embedding
 * table can exceed it while the heap stays small. Needs native access
 * ({@code --enable-native-access}).
 */
public final class NativeMemory {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MALLOC = LINKER.downcallHandle(LINKER.defaultLookup().find("malloc").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle FREE = LINKER.downcallHandle(LINKER.defaultLookup().find("free").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));

    private NativeMemory() {
    }

    /** {@code bytes} of uninitialised memory, freed when {@code owner} closes. */
    static MemorySegment allocate(long bytes, Arena owner) {
        MemorySegment raw;
        try {
            raw = (MemorySegment) MALLOC.invokeExact(Math.max(1L, bytes));
        } catch (Throwable t) {
            throw new FmsmoException(ErrorCode.INTERNAL, "malloc failed: " + t, t);
        }
        if (raw.equals(MemorySegment.NULL)) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "out of native memory: could not allocate " + bytes + " bytes");
        }
        return raw.reinterpret(bytes, owner, NativeMemory::free);
    }

    /**
     * A FLOAT32 array of {@code shape} in {@code manager} from the values {@code fill} writes into
     * a staging segment (native byte order, 4 bytes per element). DJL's CPU arrays alias the buffer
     * they are made from, so the array is cloned into libtorch-owned memory and the staging memory
     * freed at once.
     */
    public static NDArray engineFloats(NDManager manager, Shape shape, Consumer<MemorySegment> fill) {
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment dst = allocate(shape.size() * 4, staging);
            fill.accept(dst);
            NDArray aliased = manager.create(dst.asByteBuffer().order(ByteOrder.nativeOrder()), shape, DataType.FLOAT32);
            NDArray owned = aliased.duplicate();
            aliased.close();
            return owned;
        }
    }

    private static void free(MemorySegment s) {
        try {
            FREE.invokeExact(s);
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
    }
}
