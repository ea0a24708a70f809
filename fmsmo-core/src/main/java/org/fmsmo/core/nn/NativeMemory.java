package org.fmsmo.core.nn;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * Staging memory from the C heap ({@code malloc}/{@code free}). {@link Arena#allocate} would count
 * against the JVM's direct-memory limit, which defaults to the heap size: a single embedding
 * table can exceed it while the heap stays small. Needs native access
 * ({@code --enable-native-access}).
 */
final class NativeMemory {

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

    private static void free(MemorySegment s) {
        try {
            FREE.invokeExact(s);
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
    }
}
