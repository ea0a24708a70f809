package org.fmsmo.api.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.FmsmoException;

/**
 * A tensor as safetensors stores it: a dtype name ({@code F32}, {@code F16}, {@code BF16},
 * {@code I8}, {@code U8}, {@code I32}, {@code F8_E4M3}), a shape and little-endian bytes.
 *
 * @param data read from position 0; {@link #bytes()} gives a little-endian duplicate
 */
@Experimental(since = "1.0")
public record StoredTensor(String dtype, long[] shape, ByteBuffer data) {

    public StoredTensor {
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        long n = elements(shape);
        if (data.limit() != n * elementSize(dtype)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "tensor of dtype " + dtype + " and shape " + Arrays.toString(shape)
                    + " needs " + n * elementSize(dtype) + " bytes, found " + data.limit());
        }
    }

    /** Bytes per element of a dtype name. */
    public static int elementSize(String dtype) {
        return switch (dtype) {
            case "F32", "I32" -> 4;
            case "F16", "BF16" -> 2;
            case "I8", "U8", "F8_E4M3", "F8_E5M2" -> 1;
            default -> throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "unsupported stored dtype " + dtype
                    + "; expected F32, F16, BF16, I8, U8, I32, F8_E4M3 or F8_E5M2");
        };
    }

    /** Product of the dimensions. */
    public static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** The shape (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** A little-endian view from the start. */
    public ByteBuffer bytes() {
        return data.duplicate().rewind().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** An I32 tensor. */
    public static StoredTensor ofInts(long[] shape, int[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(values);
        return new StoredTensor("I32", shape, b);
    }

    /** An F32 tensor. */
    public static StoredTensor ofFloats(long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new StoredTensor("F32", shape, b);
    }

    /** An F16 tensor (IEEE half, round to nearest even). */
    public static StoredTensor ofHalfs(long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort(Float.floatToFloat16(v));
        }
        return new StoredTensor("F16", shape, b.rewind());
    }

    /** A one-byte-per-element tensor ({@code I8}, {@code U8}, {@code F8_E4M3}). */
    public static StoredTensor ofBytes(String dtype, long[] shape, byte[] values) {
        return new StoredTensor(dtype, shape, ByteBuffer.wrap(values));
    }

    /** The values as floats, whatever the dtype (integers exactly, FP8 by the format definition). */
    public float[] toFloats() {
        int n = Math.toIntExact(elements(shape));
        float[] out = new float[n];
        ByteBuffer b = bytes();
        for (int i = 0; i < n; i++) {
            out[i] = switch (dtype) {
                case "F32" -> b.getFloat();
                case "F16" -> Float.float16ToFloat(b.getShort());
                case "BF16" -> Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
                case "I32" -> b.getInt();
                case "I8" -> b.get();
                case "U8" -> b.get() & 0xff;
                case "F8_E4M3" -> org.fmsmo.api.quant.Fp8Format.E4M3.decode(b.get());
                case "F8_E5M2" -> org.fmsmo.api.quant.Fp8Format.E5M2.decode(b.get());
                default -> throw new IllegalStateException(dtype);
            };
        }
        return out;
    }

    /** The values of an I32 tensor. */
    public int[] toInts() {
        if (!dtype.equals("I32")) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "expected an I32 tensor, found " + dtype);
        }
        int[] out = new int[Math.toIntExact(elements(shape))];
        bytes().asIntBuffer().get(out);
        return out;
    }
}
