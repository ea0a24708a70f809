package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.HostTensors;

/**
 * FLOAT32 engine arrays filled in place: values are written once, straight into the memory
 * libtorch allocated for the array, rather than staged in Java, direct or {@code malloc}ed memory
 * and copied (DJL's CPU arrays made from a buffer alias it, so a staged array had to be cloned).
 */
public final class NativeMemory {

    private NativeMemory() {
    }

    /**
     * A FLOAT32 array of {@code shape} in {@code manager} whose values {@code fill} writes, in
     * place, into the engine's own memory (native byte order, 4 bytes per element). The engine
     * allocates it (libtorch, on transparent huge pages when the launcher asks for them): staging
     * the values in {@code malloc}ed or direct memory first cost a page fault per 4 KB, and
     * {@code create(float[])} zeroes a direct buffer before copying. At 8B shapes that was about
     * 7 s of a streamed block's 14 s to load.
     */
    public static NDArray engineFloats(NDManager manager, Shape shape, Consumer<MemorySegment> fill) {
        // DJL hands an array's memory out as a ByteBuffer, indexed by int: say so before allocating
        if (shape.size() > Integer.MAX_VALUE / 4) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "a FLOAT32 array of shape " + shape + " (" + shape.size() * 4
                    + " bytes) is over the 2 GiB an engine array can be filled through; expected at most " + Integer.MAX_VALUE / 4 + " values");
        }
        NDArray a = HostTensors.allocate(manager, shape);
        try {
            fill.accept(MemorySegment.ofBuffer(HostTensors.target(a)));
        } catch (RuntimeException e) {
            a.close();
            throw e;
        }
        return a;
    }

    /** {@code values} as a FLOAT32 array of {@code shape} in {@code manager}, copied once into the engine's memory. */
    public static NDArray engineFloats(NDManager manager, float[] values, Shape shape) {
        if (values.length != shape.size()) {
            throw new IllegalArgumentException(values.length + " values for shape " + shape);
        }
        return engineFloats(manager, shape, dst -> MemorySegment.copy(values, 0, dst, ValueLayout.JAVA_FLOAT, 0, values.length));
    }
}
