package org.fmsmo.core.io.safetensors;

import java.util.Arrays;

/**
 * One tensor's entry in a safetensors header.
 *
 * @param name   tensor name
 * @param dtype  element type
 * @param shape  dimensions (empty for a scalar)
 * @param begin  first byte, relative to the start of the data section
 * @param end    one past the last byte, relative to the start of the data section
 */
public record TensorInfo(String name, Dtype dtype, long[] shape, long begin, long end) {

    /** Copies the shape. */
    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (1 for a scalar). */
    public long elements() {
        return elements(shape);
    }

    /**
     * The number of elements a shape holds (1 for a scalar).
     *
     * @throws ArithmeticException when the product overflows a long
     */
    public static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Size of the data in bytes. */
    public long byteSize() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.name.equals(name) && t.dtype == dtype && Arrays.equals(t.shape, shape)
                && t.begin == begin && t.end == end;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
