package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Java arrays to and from the engine for GPTQ's matmuls, copied straight between the Java array
 * and the engine array's own memory. {@code NDManager.create(float[])} stages the values in a
 * direct {@code ByteBuffer} that only a garbage collection frees, and {@code toFloatArray()} makes
 * a Java copy: at 8B shapes the factorisation alone made gigabytes of both per layer, which sat in
 * the process until a collection. Sub-blocks of a matrix go row by row, without a Java copy of
 * the block either.
 */
final class EngineArrays {

    private EngineArrays() {
    }

    /** {@code values[from .. from + shape.size())} as a FLOAT32 array of {@code shape} in {@code m}. */
    static NDArray floats(NDManager m, float[] values, int from, Shape shape) {
        NDArray a = m.create(shape, DataType.FLOAT32);
        memory(a).put(0, values, from, Math.toIntExact(shape.size()));
        return a;
    }

    static NDArray floats(NDManager m, float[] values, Shape shape) {
        return floats(m, values, 0, shape);
    }

    /** The {@code rows×cols} block at ({@code r0}, {@code c0}) of the row-major {@code ld}-wide {@code a}, as an engine array. */
    static NDArray block(NDManager m, float[] a, int ld, int r0, int c0, int rows, int cols) {
        NDArray e = m.create(new Shape(rows, cols), DataType.FLOAT32);
        FloatBuffer dst = memory(e);
        for (int i = 0; i < rows; i++) {
            dst.put(i * cols, a, (r0 + i) * ld + c0, cols);
        }
        return e;
    }

    /** Writes the 2-d engine array {@code e} into the row-major {@code ld}-wide {@code a} at ({@code r0}, {@code c0}). */
    static void put(NDArray e, float[] a, int ld, int r0, int c0) {
        int rows = Math.toIntExact(e.getShape().get(0));
        int cols = Math.toIntExact(e.getShape().get(1));
        FloatBuffer src = memory(e);
        for (int i = 0; i < rows; i++) {
            src.get(i * cols, a, (r0 + i) * ld + c0, cols);
        }
    }

    /**
     * The array's FLOAT32 values in place (a contiguous copy in the array's manager when it is a
     * strided view); valid while the array is open.
     */
    static FloatBuffer memory(NDArray e) {
        if (e.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException("expected a FLOAT32 array, found " + e.getDataType());
        }
        return e.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }
}
