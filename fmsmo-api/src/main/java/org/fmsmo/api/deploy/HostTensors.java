package org.fmsmo.api.deploy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.fmsmo.api.Experimental;

/**
 * A CPU backend's way in and out of the engine's arrays without copies: a layer reads its input
 * through a view of the engine's own memory and writes its output into an array the engine
 * allocated, rather than copying each through a Java array. Those copies, a few MB per layer and
 * call, were allocated on the Java heap each time and cost more than a small layer's GEMM.
 *
 * <p>A view is valid only while its array is open; it must not be kept past the call.
 */
@Experimental(since = "1.9")
public final class HostTensors {

    private HostTensors() {
    }

    /**
     * The values of a CPU array, row-major, as a direct buffer over the engine's memory. An array
     * that is not contiguous FLOAT32 is converted first; that copy belongs to {@code x}'s manager
     * and lives as long as it.
     */
    public static FloatBuffer floats(NDArray x) {
        NDArray a = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        return a.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** A new FLOAT32 array in {@code manager}, its contents unset: a layer's output, to fill through {@link #target}. */
    public static NDArray allocate(NDManager manager, Shape shape) {
        return manager.create(shape, DataType.FLOAT32);
    }

    /**
     * A writable view of an array from {@link #allocate}: what is put in it is the array's values.
     *
     * @throws IllegalStateException when the engine hands out copies rather than views of its memory
     */
    public static FloatBuffer target(NDArray y) {
        java.nio.ByteBuffer b = y.toByteBuffer(true);
        if (!b.isDirect() || y.getDataType() != DataType.FLOAT32) {
            throw new IllegalStateException("the engine's " + y.getClass().getSimpleName() + " gives no writable view of its memory");
        }
        return b.order(ByteOrder.nativeOrder()).asFloatBuffer();
    }
}
