package org.fmsmo.plugin.onnx;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * The protobuf wire format, write side only: what ONNX's {@code ModelProto} needs (varints,
 * 64-bit-free scalars, length-delimited strings, bytes and nested messages). A message is built
 * into a byte array and nested whole; tensors of a few hundred MB fit in memory this way, which
 * is the scale an encoder export has. Hand-written rather than generated from {@code onnx.proto}
 * so the plugin depends on the SPI alone.
 */
final class Proto {

    /** The most one message can hold: protobuf's 2 GiB. */
    static final long MAX_BYTES = Integer.MAX_VALUE;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private void varint(long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private void tag(int field, int wire) {
        varint(((long) field << 3) | wire);
    }

    Proto int64(int field, long v) {
        tag(field, 0);
        varint(v);
        return this;
    }

    Proto float32(int field, float v) {
        tag(field, 5);
        int bits = Float.floatToRawIntBits(v);
        for (int i = 0; i < 4; i++) {
            out.write(bits >>> (8 * i));
        }
        return this;
    }

    Proto bytes(int field, byte[] b) {
        if ((long) out.size() + b.length + 16 > MAX_BYTES) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "the ONNX graph would be over " + MAX_BYTES
                    + " bytes (2 GiB, protobuf's limit for one message), and this exporter writes no external data file");
        }
        tag(field, 2);
        varint(b.length);
        out.writeBytes(b);
        return this;
    }

    Proto string(int field, String s) {
        return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    Proto message(int field, Proto m) {
        return bytes(field, m.toByteArray());
    }

    byte[] toByteArray() {
        return out.toByteArray();
    }
}
