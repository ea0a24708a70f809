package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Java arrays handed to the engine for one matmul. {@code NDManager.create(float[])} stages the
 * values in a direct {@code ByteBuffer} that the engine array aliases and that only a garbage
 * collection frees: at 8B shapes GPTQ makes gigabytes of them per layer, which then sit in the
 * process until the heap happens to fill. Here the staging memory is freed at once and the array
 * owns an engine copy.
 */
final class EngineArrays {

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.nativeOrder());

    private EngineArrays() {
    }

    /** {@code values[from .. from + shape.size())} as a FLOAT32 array of {@code shape} in {@code m}. */
    static NDArray floats(NDManager m, float[] values, int from, Shape shape) {
        long n = shape.size();
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment s = staging.allocate(n * Float.BYTES, 64);
            MemorySegment.copy(values, from, s, FLOAT, 0, Math.toIntExact(n));
            try (NDArray aliased = m.create(s.asByteBuffer().order(ByteOrder.nativeOrder()), shape, DataType.FLOAT32)) {
                return aliased.duplicate();
            }
        }
    }

    static NDArray floats(NDManager m, float[] values, Shape shape) {
        return floats(m, values, 0, shape);
    }
}
