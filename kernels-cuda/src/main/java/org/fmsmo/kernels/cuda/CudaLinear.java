package org.fmsmo.kernels.cuda;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.fmsmo.api.deploy.PreparedLinear;

/**
 * The DJL face of a GPU layer: copies the input NDArray to native memory, runs the layer
 * ({@link W8A8Gemm} or {@link W4A16Gemm}), and wraps the output. One forward at a time.
 */
final class CudaLinear implements PreparedLinear {

    /** What both GPU layer kinds offer on plain memory. */
    interface Layer extends AutoCloseable {
        int in();

        int out();

        /** y[tokens][out] for x[tokens][in], float32, host memory; waits for the GPU. */
        void forward(MemorySegment x, MemorySegment y, int tokens);

        @Override
        void close();
    }

    private final Layer layer;

    CudaLinear(Layer layer) {
        this.layer = layer;
    }

    @Override
    public synchronized NDArray forward(NDArray x) {
        Shape shape = x.getShape();
        int in = layer.in(), out = layer.out();
        int tokens = Math.toIntExact(shape.size() / in);
        float[] y = new float[Math.multiplyExact(tokens, out)];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment hostX = a.allocate((long) tokens * in * Float.BYTES, 16);
            MemorySegment.copy(x.toFloatArray(), 0, hostX, ValueLayout.JAVA_FLOAT, 0, tokens * in);
            MemorySegment hostY = a.allocate((long) y.length * Float.BYTES, 16);
            layer.forward(hostX, hostY, tokens);
            MemorySegment.copy(hostY, ValueLayout.JAVA_FLOAT, 0, y, 0, y.length);
        }
        long[] outShape = shape.getShape().clone();
        outShape[outShape.length - 1] = out;
        return x.getManager().create(y, new Shape(outShape));
    }

    @Override
    public synchronized void close() {
        layer.close();
    }
}
