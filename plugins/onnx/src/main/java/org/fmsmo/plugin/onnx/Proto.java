package org.fmsmo.plugin.onnx;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The protobuf wire format, write side only: what ONNX's {@code ModelProto} needs (varints,
 * 64-bit-free scalars, length-delimited strings, bytes and nested messages). A message is a list
 * of parts: encoded small fields, large byte payloads held by reference, and nested messages whose
 * length is worked out when the whole is written. So a tensor's bytes exist once until they are
 * written, rather than copied into every enclosing message (a 1.6 GB graph took four copies).
 * Hand-written rather than generated from {@code onnx.proto} so the plugin depends on the SPI alone.
 */
final class Proto {

    /** The most one message can hold: protobuf's 2 GiB. */
    static final long MAX_BYTES = Integer.MAX_VALUE;

    /** Payloads from this size up are kept by reference rather than copied into the message's own buffer. */
    private static final int BY_REFERENCE = 4096;

    /** Encoded bytes ({@code byte[]}) and nested messages ({@link Proto}, after their tag), in order. */
    private final List<Object> parts = new ArrayList<>();
    private ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private long size = -1;

    private static int varintSize(long v) {
        int n = 1;
        while ((v & ~0x7FL) != 0) {
            n++;
            v >>>= 7;
        }
        return n;
    }

    private static void varint(OutputStream out, long v) throws IOException {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private void tag(int field, int wire) {
        size = -1;
        try {
            varint(pending, ((long) field << 3) | wire);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream throws none
        }
    }

    private void flush() {
        if (pending.size() > 0) {
            parts.add(pending.toByteArray());
            pending = new ByteArrayOutputStream();
        }
    }

    Proto int64(int field, long v) {
        tag(field, 0);
        try {
            varint(pending, v);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    Proto float32(int field, float v) {
        tag(field, 5);
        int bits = Float.floatToRawIntBits(v);
        for (int i = 0; i < 4; i++) {
            pending.write(bits >>> (8 * i));
        }
        return this;
    }

    /** A length-delimited field; {@code b} is kept, not copied, when large, so it must not change afterwards. */
    Proto bytes(int field, byte[] b) {
        tag(field, 2);
        try {
            varint(pending, b.length);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (b.length >= BY_REFERENCE) {
            flush();
            parts.add(b);
        } else {
            pending.writeBytes(b);
        }
        return this;
    }

    Proto string(int field, String s) {
        return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    /** A nested message, written (with its length) when this one is; it must not change afterwards. */
    Proto message(int field, Proto m) {
        tag(field, 2);
        flush();
        parts.add(m);
        return this;
    }

    /** Bytes this message takes on the wire (without its own tag and length). */
    long size() {
        if (size < 0) {
            long n = pending.size();
            for (Object p : parts) {
                if (p instanceof byte[] b) {
                    n += b.length;
                } else {
                    long inner = ((Proto) p).size();
                    n += varintSize(inner) + inner;
                }
            }
            size = n;
        }
        return size;
    }

    void writeTo(OutputStream out) throws IOException {
        for (Object p : parts) {
            if (p instanceof byte[] b) {
                out.write(b);
            } else {
                Proto m = (Proto) p;
                varint(out, m.size());
                m.writeTo(out);
            }
        }
        pending.writeTo(out);
    }

    /** The message as one array: for small ones (a single layer's graph). */
    byte[] toByteArray() {
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(size(), MAX_BYTES));
        try {
            writeTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
