package org.fmsmo.core.io.safetensors;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Objects;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * A tensor to write: name, dtype, shape and a source of its little-endian bytes, so that large
 * tensors can be streamed without being held in one array.
 *
 * @param name   tensor name
 * @param dtype  element type on disk
 * @param shape  dimensions
 * @param source writes exactly {@code elements × dtype.size()} bytes
 */
public record TensorData(String name, Dtype dtype, long[] shape, Source source) {

    /** Writes a tensor's bytes at the channel's position. */
    @FunctionalInterface
    public interface Source {
        /** Writes the bytes and leaves the position after them. */
        void writeTo(FileChannel channel) throws IOException;
    }

    /** Validates and copies the shape. */
    public TensorData {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(source, "source");
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Bytes on disk. */
    public long byteSize() {
        return Math.multiplyExact(TensorInfo.elements(shape), dtype.size());
    }

    /**
     * F32 values stored as {@code dtype}: F32/F64 exactly, F16 and BF16 rounded to nearest even,
     * FP8 rounded to nearest even with saturation.
     */
    public static TensorData ofFloats(String name, Dtype dtype, long[] shape, float[] values) {
        if (!dtype.isFloat()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "tensor '" + name + "': cannot store floats as " + dtype);
        }
        checkCount(name, shape, values.length);
        byte[] raw = new byte[Math.multiplyExact(values.length, dtype.size())];
        FloatConversions.narrow(dtype, MemorySegment.ofArray(values), MemorySegment.ofArray(raw), values.length);
        return ofBytes(name, dtype, shape, raw);
    }

    /** Integer values stored as {@code dtype} (I64, I32, I16, I8, U8 or BOOL); values must fit. */
    public static TensorData ofLongs(String name, Dtype dtype, long[] shape, long[] values) {
        if (dtype.isFloat()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "tensor '" + name + "': cannot store integers as " + dtype);
        }
        checkCount(name, shape, values.length);
        long min = switch (dtype) {
            case I64 -> Long.MIN_VALUE;
            case I32 -> Integer.MIN_VALUE;
            case I16 -> Short.MIN_VALUE;
            case I8 -> Byte.MIN_VALUE;
            default -> 0;
        };
        long max = switch (dtype) {
            case I64 -> Long.MAX_VALUE;
            case I32 -> Integer.MAX_VALUE;
            case I16 -> Short.MAX_VALUE;
            case I8 -> Byte.MAX_VALUE;
            case BOOL -> 1;
            default -> 255;
        };
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, dtype.size())).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            if (v < min || v > max) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "tensor '" + name + "': value " + v + " does not fit " + dtype);
            }
            switch (dtype.size()) {
                case 8 -> b.putLong(v);
                case 4 -> b.putInt((int) v);
                case 2 -> b.putShort((short) v);
                default -> b.put((byte) v);
            }
        }
        return ofBytes(name, dtype, shape, b.array());
    }

    /** Raw little-endian bytes. */
    public static TensorData ofBytes(String name, Dtype dtype, long[] shape, byte[] raw) {
        TensorData t = new TensorData(name, dtype, shape, ch -> {
            ByteBuffer buf = ByteBuffer.wrap(raw);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        });
        if (t.byteSize() != raw.length) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "tensor '" + name + "': shape needs " + t.byteSize()
                    + " bytes of " + dtype + ", got " + raw.length);
        }
        return t;
    }

    private static void checkCount(String name, long[] shape, int count) {
        long n = TensorInfo.elements(shape);
        if (n != count) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "tensor '" + name + "': shape holds " + n + " values, got " + count);
        }
    }

    /** A row-major {@code [rows, cols]} matrix as {@code [cols, rows]} (ONNX's and GPT-2's {@code [in, out]} weights). */
    public static float[] transpose(float[] v, int rows, int cols) {
        float[] t = new float[v.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = v[i * cols + j];
            }
        }
        return t;
    }
}
