package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import org.fmsmo.api.deploy.HostTensors;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.FloatConversions;
import org.fmsmo.core.io.safetensors.TensorData;

/**
 * FLOAT32 engine arrays filled and read in place: values are written once, straight into the
 * memory libtorch allocated for the array, rather than staged in Java, direct or {@code malloc}ed
 * memory and copied (DJL's CPU arrays made from a buffer alias it, so a staged array had to be
 * cloned), and read back from it without a Java copy of the whole array.
 *
 * <p>DJL hands an array's memory out as a {@link ByteBuffer}, indexed by {@code int}, so an array
 * over 2 GiB (a Qwen2.5-7B head or embedding table, 152064 × 3584 FLOAT32, is 2.18 GB; Gemma 2's
 * 256000-row table is more) is reached through views of consecutive pieces of its flattened
 * values. A view of a contiguous array shares its memory, so what is written there is the array's.
 */
public final class NativeMemory {

    /** Elements per piece: 1 GiB of FLOAT32, well under what one buffer can address. */
    static final long PIECE = 1L << 28;

    /** Writes elements {@code [first, first + dst.byteSize() / 4)} of an array into {@code dst} (native byte order). */
    @FunctionalInterface
    public interface Fill {
        void into(MemorySegment dst, long first);
    }

    /** Reads elements {@code [first, first + src.byteSize() / 4)} of an array from {@code src} (native byte order). */
    @FunctionalInterface
    public interface Visit {
        void piece(MemorySegment src, long first) throws IOException;
    }

    private NativeMemory() {
    }

    /**
     * A FLOAT32 array of {@code shape} in {@code manager}, of any size, whose values {@code fill}
     * writes, in place, into the engine's own memory, piece by piece in order. The engine allocates
     * it (libtorch, on transparent huge pages when the launcher asks for them): staging the values
     * in {@code malloc}ed or direct memory first cost a page fault per 4 KB, and
     * {@code create(float[])} zeroes a direct buffer before copying. At 8B shapes that was about
     * 7 s of a streamed block's 14 s to load.
     */
    public static NDArray engineFloats(NDManager manager, Shape shape, Fill fill) {
        return engineFloats(manager, shape, fill, PIECE);
    }

    static NDArray engineFloats(NDManager manager, Shape shape, Fill fill, long piece) {
        NDArray a = HostTensors.allocate(manager, shape);
        try {
            pieces(a, piece, true, (dst, first) -> fill.into(dst, first));
        } catch (IOException e) {
            throw new IllegalStateException(e); // a Fill throws no IOException
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
        return engineFloats(manager, shape,
                (dst, first) -> MemorySegment.copy(values, (int) first, dst, ValueLayout.JAVA_FLOAT, 0, (int) (dst.byteSize() / 4)));
    }

    /**
     * Hands {@code visit} the values of a FLOAT32 CPU array of any size, row-major, in pieces of at
     * most 1 GiB, in order, each a view of the engine's memory valid only during the call.
     */
    public static void read(NDArray a, Visit visit) throws IOException {
        pieces(a, PIECE, false, visit);
    }

    /**
     * The values of a FLOAT32 array as a Java array, for arrays of any byte size up to a Java
     * array's length ({@code toFloatArray()} stops at 2 GiB: an exporter reading a 7B model's
     * 2.18 GB embedding table).
     */
    public static float[] toFloats(NDArray a) {
        return toFloats(a, PIECE);
    }

    static float[] toFloats(NDArray a, long piece) {
        float[] y = new float[Math.toIntExact(a.size())];
        try {
            read(a, piece, (src, first) -> MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, 0, y, (int) first, (int) (src.byteSize() / 4)));
        } catch (IOException e) {
            throw new IllegalStateException(e); // the copy throws no IOException
        }
        return y;
    }

    static void read(NDArray a, long piece, Visit visit) throws IOException {
        pieces(a, piece, false, visit);
    }

    /**
     * A tensor to write whose bytes are {@code a}'s values stored as {@code dtype} (rounded as
     * {@link FloatConversions#narrow} does), converted a few MB at a time when the writer reaches
     * it: neither a Java copy of the array nor of its stored bytes is made, so saving a model needs
     * no heap for its weights, and an array over 2 GiB can be saved.
     */
    public static TensorData tensorData(String name, Dtype dtype, NDArray a) {
        return tensorData(name, dtype, a, PIECE);
    }

    static TensorData tensorData(String name, Dtype dtype, NDArray a, long piece) {
        if (!dtype.isFloat()) {
            throw new IllegalArgumentException("tensor '" + name + "': cannot store floats as " + dtype);
        }
        return new TensorData(name, dtype, a.getShape().getShape(), ch -> read(a, piece, (src, first) -> write(src, dtype, ch)));
    }

    private static final int WRITE_ELEMENTS = 1 << 20;

    private static void write(MemorySegment src, Dtype dtype, FileChannel ch) throws IOException {
        long n = src.byteSize() / 4;
        ByteBuffer out = ByteBuffer.allocate((int) Math.min(n, WRITE_ELEMENTS) * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        MemorySegment outSegment = MemorySegment.ofBuffer(out);
        for (long i = 0; i < n; i += WRITE_ELEMENTS) {
            long count = Math.min(WRITE_ELEMENTS, n - i);
            FloatConversions.narrow(dtype, src.asSlice(i * 4, count * 4), outSegment, count);
            out.clear().limit((int) count * dtype.size());
            while (out.hasRemaining()) {
                ch.write(out);
            }
        }
    }

    private static void pieces(NDArray a, long piece, boolean writable, Visit visit) throws IOException {
        if (a.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException("expected a FLOAT32 array, found " + a.getDataType());
        }
        long n = a.size();
        if (n <= piece) {
            visit.piece(segment(a, writable), 0);
            return;
        }
        long base = writable ? start(a) : 0;
        try (NDArray flat = a.reshape(-1)) {
            for (long first = 0; first < n; first += piece) {
                try (NDArray view = flat.get(new NDIndex("{}:{}", first, Math.min(n, first + piece)))) {
                    MemorySegment s = segment(view, writable);
                    base = base == 0 ? s.address() : base;
                    // values written into a copy would be lost without a trace: check that each piece lies where the array's does
                    if (writable && s.address() != base + first * 4) {
                        throw new IllegalStateException("the engine gave a copy, not a view, of elements " + first + "… of an array of shape "
                                + a.getShape());
                    }
                    visit.piece(s, first);
                }
            }
        }
    }

    /** Where the array's memory starts: the address of its first row's view (0 when that row alone is too large to be handed out). */
    private static long start(NDArray a) {
        if (a.getShape().dimension() == 0 || a.size() / a.getShape().get(0) > Integer.MAX_VALUE / 4) {
            return 0;
        }
        try (NDArray row = a.get(new NDIndex("0:1"))) {
            return segment(row, true).address();
        }
    }

    private static MemorySegment segment(NDArray a, boolean writable) {
        return MemorySegment.ofBuffer(writable ? HostTensors.target(a) : HostTensors.floats(a));
    }
}
