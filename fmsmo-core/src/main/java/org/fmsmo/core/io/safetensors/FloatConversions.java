package org.fmsmo.core.io.safetensors;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.fmsmo.api.quant.Fp8Format;

/**
 * Conversions between F32 and the narrow float formats, done in Java (DJL's PyTorch engine aborts
 * the JVM on BF16 arrays). Narrowing rounds to nearest, ties to even; FP8 saturates at ±max.
 */
public final class FloatConversions {

    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private FloatConversions() {
    }

    /**
     * Element {@code i} of little-endian float data of type {@code dtype} as F32: F64 narrowed,
     * F16, BF16 and FP8 widened exactly.
     *
     * @throws IllegalArgumentException for integer dtypes
     */
    public static float read(Dtype dtype, MemorySegment data, long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(FLOAT_LE, i);
            case F64 -> (float) data.getAtIndex(DOUBLE_LE, i);
            case F16 -> f16ToFloat(data.getAtIndex(SHORT_LE, i));
            case BF16 -> bf16ToFloat(data.getAtIndex(SHORT_LE, i));
            case F8_E4M3, F8_E5M2 -> f8ToFloat(dtype, data.get(ValueLayout.JAVA_BYTE, i));
            default -> throw new IllegalArgumentException(dtype + " is not a float dtype");
        };
    }

    /**
     * Elements {@code [0, n)} of little-endian float data of type {@code dtype} written to
     * {@code dst} as little-endian F32, with one loop per dtype. Reading element by element through
     * {@link #read} chose the dtype for every element: an 8B model's BF16 embedding table and
     * head (1.05 G elements) took 17 s that way.
     */
    public static void widen(Dtype dtype, MemorySegment src, MemorySegment dst, long n) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, 0, dst, 0, n * 4);
            case BF16 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(FLOAT_LE, i, bf16ToFloat(src.getAtIndex(SHORT_LE, i)));
                }
            }
            case F16 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(FLOAT_LE, i, f16ToFloat(src.getAtIndex(SHORT_LE, i)));
                }
            }
            default -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(FLOAT_LE, i, read(dtype, src, i));
                }
            }
        }
    }

    /** As {@link #widen(Dtype, MemorySegment, MemorySegment, long)}, into {@code dst[0, n)}. */
    public static void widen(Dtype dtype, MemorySegment src, float[] dst, int n) {
        widen(dtype, src, MemorySegment.ofArray(dst), n);
    }

    /**
     * Elements {@code [0, n)} of little-endian F32 data stored into {@code dst} as little-endian
     * {@code dtype} (F32 copied, F64 exactly, F16 and BF16 rounded to nearest even, FP8 rounded to
     * nearest even with saturation), with one loop per dtype as in {@link #widen}.
     */
    public static void narrow(Dtype dtype, MemorySegment src, MemorySegment dst, long n) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, 0, dst, 0, n * 4);
            case BF16 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(SHORT_LE, i, floatToBf16(src.getAtIndex(FLOAT_LE, i)));
                }
            }
            case F16 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(SHORT_LE, i, floatToF16(src.getAtIndex(FLOAT_LE, i)));
                }
            }
            case F64 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(DOUBLE_LE, i, src.getAtIndex(FLOAT_LE, i));
                }
            }
            case F8_E4M3, F8_E5M2 -> {
                for (long i = 0; i < n; i++) {
                    dst.set(ValueLayout.JAVA_BYTE, i, floatToF8(dtype, src.getAtIndex(FLOAT_LE, i)));
                }
            }
            default -> throw new IllegalArgumentException(dtype + " is not a float dtype");
        }
    }

    /** bfloat16 bits to float: the bits are the upper half of an F32. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float to bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** IEEE half bits to float. */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** float to IEEE half bits, round to nearest even (overflow gives ±∞). */
    public static short floatToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** FP8 code to float. */
    public static float f8ToFloat(Dtype dtype, byte code) {
        return fp8(dtype).decode(code);
    }

    /** float to FP8 code, round to nearest even, saturating. */
    public static byte floatToF8(Dtype dtype, float f) {
        return fp8(dtype).encode(f, true);
    }

    private static Fp8Format fp8(Dtype dtype) {
        return switch (dtype) {
            case F8_E4M3 -> Fp8Format.E4M3;
            case F8_E5M2 -> Fp8Format.E5M2;
            default -> throw new IllegalArgumentException(dtype + " is not an FP8 dtype");
        };
    }
}
