package org.fmsmo.plugin.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The ggml tensor types this plugin writes and reads, with their block layouts as llama.cpp's
 * {@code ggml-common.h} defines them. A row of {@code n} weights (n a multiple of the block size)
 * is stored as {@code n / blockSize} blocks of {@code blockBytes} bytes, little-endian:
 * <ul>
 *   <li>{@code Q8_0}: fp16 d, 32 × int8; w = d·q;</li>
 *   <li>{@code Q4_0}: fp16 d, 16 bytes; byte j holds element j (low nibble) and j+16 (high);
 *       w = d·(q − 8);</li>
 *   <li>{@code Q4_K}: 256 weights in 8 sub-blocks of 32: fp16 d, fp16 dmin, 12 bytes of 6-bit
 *       sub-block scales and mins, 128 bytes of 4-bit quants; w = d·sc·q − dmin·m.</li>
 * </ul>
 * The quantizers follow llama.cpp's reference ({@code quantize_row_*_ref}) for Q8_0 and Q4_0, so
 * their bytes equal what llama.cpp or gguf-py would write; Q4_K's picks scales by a simpler
 * search (min/max, then one least-squares refinement), which the format leaves to the writer.
 */
enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q8_0(8, 32, 34),
    Q4_K(12, 256, 144);

    /** The {@code ggml_type} number stored in a GGUF tensor info. */
    final int id;
    /** Weights per block. */
    final int blockSize;
    /** Bytes per block. */
    final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    static GgmlType byId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        return null;
    }

    /** Whether a tensor whose rows hold {@code rowLength} values can be stored in this type. */
    boolean fits(long rowLength) {
        return rowLength % blockSize == 0;
    }

    /** Bytes taken by {@code elements} values (a whole number of blocks). */
    long bytes(long elements) {
        return elements / blockSize * blockBytes;
    }

    /** Encodes {@code x} (a whole number of blocks) into {@code out}, which is little-endian. */
    void quantize(float[] x, ByteBuffer out) {
        switch (this) {
            case F32 -> {
                for (float v : x) {
                    out.putFloat(v);
                }
            }
            case F16 -> {
                for (float v : x) {
                    out.putShort(Float.floatToFloat16(v));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < x.length; b += 32) {
                    q8Block(x, b, out);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < x.length; b += 32) {
                    q4Block(x, b, out);
                }
            }
            case Q4_K -> {
                for (int b = 0; b < x.length; b += 256) {
                    Q4K.quantize(x, b, out);
                }
            }
        }
    }

    /** Decodes {@code n} values from {@code in} (little-endian) into {@code y}. */
    void dequantize(ByteBuffer in, float[] y) {
        switch (this) {
            case F32 -> {
                for (int i = 0; i < y.length; i++) {
                    y[i] = in.getFloat();
                }
            }
            case F16 -> {
                for (int i = 0; i < y.length; i++) {
                    y[i] = Float.float16ToFloat(in.getShort());
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < y.length; b += 32) {
                    float d = Float.float16ToFloat(in.getShort());
                    for (int j = 0; j < 32; j++) {
                        y[b + j] = in.get() * d;
                    }
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < y.length; b += 32) {
                    float d = Float.float16ToFloat(in.getShort());
                    for (int j = 0; j < 16; j++) {
                        int q = in.get() & 0xFF;
                        y[b + j] = ((q & 0xF) - 8) * d;
                        y[b + j + 16] = ((q >> 4) - 8) * d;
                    }
                }
            }
            case Q4_K -> {
                for (int b = 0; b < y.length; b += 256) {
                    Q4K.dequantize(in, y, b);
                }
            }
        }
    }

    /** C's {@code roundf}: halves away from zero (Java's {@code Math.round} rounds them up). */
    static int roundf(float v) {
        return (int) (Math.signum(v) * Math.floor(Math.abs(v) + 0.5f));
    }

    private static void q8Block(float[] x, int b, ByteBuffer out) {
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            amax = Math.max(amax, Math.abs(x[b + j]));
        }
        float d = amax / 127;
        float id = d != 0 ? 1 / d : 0;
        out.putShort(Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) {
            out.put((byte) roundf(x[b + j] * id));
        }
    }

    private static void q4Block(float[] x, int b, ByteBuffer out) {
        float amax = 0;
        float max = 0; // the value of largest magnitude, with its sign: it maps to code 0 exactly
        for (int j = 0; j < 32; j++) {
            if (amax < Math.abs(x[b + j])) {
                amax = Math.abs(x[b + j]);
                max = x[b + j];
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1 / d : 0;
        out.putShort(Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(15, (int) (x[b + j] * id + 8.5f)); // C's (int8_t) cast truncates; the value is ≥ 0.5
            int q1 = Math.min(15, (int) (x[b + j + 16] * id + 8.5f));
            out.put((byte) (q0 | (q1 << 4)));
        }
    }

    /** Writes a Q4_0 block from codes a method chose: {@code q} in [−8, 7], one scale. */
    static void q4BlockFromCodes(int[] q, int off, float scale, ByteBuffer out) {
        out.putShort(Float.floatToFloat16(scale));
        for (int j = 0; j < 16; j++) {
            out.put((byte) ((q[off + j] + 8) | ((q[off + j + 16] + 8) << 4)));
        }
    }

    /** Writes a Q8_0 block from codes a method chose: {@code q} in [−127, 127], one scale. */
    static void q8BlockFromCodes(int[] q, int off, float scale, ByteBuffer out) {
        out.putShort(Float.floatToFloat16(scale));
        for (int j = 0; j < 32; j++) {
            out.put((byte) q[off + j]);
        }
    }

    static ByteBuffer little(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
