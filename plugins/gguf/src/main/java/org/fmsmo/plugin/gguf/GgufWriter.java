package org.fmsmo.plugin.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * Writes a GGUF version 3 file in one pass: the header ({@code GGUF}, version, tensor and
 * key-value counts), the metadata, the tensor infos (name, dims with the fastest-varying first,
 * {@code ggml_type}, offset into the data section), padding to {@code general.alignment}, then
 * each tensor's bytes, each padded to the alignment. Everything little-endian. Tensor bytes are
 * asked for one tensor at a time, so a model is never held encoded whole.
 */
final class GgufWriter {

    static final int ALIGNMENT = 32;
    private static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32

    private record Tensor(String name, long[] dims, GgmlType type, long bytes, Supplier<ByteBuffer> data) {
    }

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();

    void put(String key, GgufValue value) {
        if (metadata.put(key, value) != null) {
            throw new IllegalStateException("metadata key " + key + " set twice");
        }
    }

    /**
     * Adds a tensor.
     *
     * @param dims GGUF order: {@code dims[0]} is the row length (a linear's input width)
     * @param data its bytes in {@code type}, asked for once, when the writer reaches it
     */
    void tensor(String name, long[] dims, GgmlType type, Supplier<ByteBuffer> data) {
        long elements = 1;
        for (long d : dims) {
            elements = Math.multiplyExact(elements, d);
        }
        tensors.add(new Tensor(name, dims.clone(), type, type.bytes(elements), data));
    }

    void write(WritableByteChannel out, Runnable perTensor) {
        try {
            Buffer h = new Buffer();
            h.i32(MAGIC).i32(3).i64(tensors.size()).i64(metadata.size());
            for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
                h.string(e.getKey()).i32(e.getValue().type());
                h.value(e.getValue());
            }
            long offset = 0;
            for (Tensor t : tensors) {
                h.string(t.name).i32(t.dims.length);
                for (long d : t.dims) {
                    h.i64(d);
                }
                h.i32(t.type.id).i64(offset);
                offset = align(offset + t.bytes);
            }
            h.pad();
            h.drainTo(out);
            for (Tensor t : tensors) {
                ByteBuffer b = t.data.get();
                if (b.remaining() != t.bytes) {
                    throw new IllegalStateException(t.name + ": " + b.remaining() + " bytes for " + t.bytes + " expected");
                }
                while (b.hasRemaining()) {
                    out.write(b);
                }
                long pad = align(t.bytes) - t.bytes;
                if (pad > 0) {
                    out.write(ByteBuffer.allocate((int) pad));
                }
                perTensor.run();
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write the GGUF file: " + e.getMessage(), e);
        }
    }

    static long align(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /** The header and metadata, grown as needed. */
    private static final class Buffer {
        private ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

        private Buffer room(int n) {
            if (b.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(b.capacity() * 2, b.position() + n)).order(ByteOrder.LITTLE_ENDIAN);
                b.flip();
                bigger.put(b);
                b = bigger;
            }
            return this;
        }

        Buffer i32(int v) {
            room(4).b.putInt(v);
            return this;
        }

        Buffer i64(long v) {
            room(8).b.putLong(v);
            return this;
        }

        Buffer string(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            room(8 + u.length).b.putLong(u.length).put(u);
            return this;
        }

        void value(GgufValue v) {
            if (v.type() == GgufValue.ARRAY) {
                List<Object> items = v.asList();
                i32(v.elementType()).i64(items.size());
                for (Object item : items) {
                    scalar(v.elementType(), item);
                }
            } else {
                scalar(v.type(), v.value());
            }
        }

        private void scalar(int type, Object o) {
            switch (type) {
                case GgufValue.UINT8, GgufValue.INT8 -> room(1).b.put((byte) ((Number) o).longValue());
                case GgufValue.BOOL -> room(1).b.put((byte) ((Boolean) o ? 1 : 0));
                case GgufValue.UINT16, GgufValue.INT16 -> room(2).b.putShort((short) ((Number) o).longValue());
                case GgufValue.UINT32, GgufValue.INT32 -> i32((int) ((Number) o).longValue());
                case GgufValue.UINT64, GgufValue.INT64 -> i64(((Number) o).longValue());
                case GgufValue.FLOAT32 -> room(4).b.putFloat(((Number) o).floatValue());
                case GgufValue.FLOAT64 -> room(8).b.putDouble(((Number) o).doubleValue());
                case GgufValue.STRING -> string((String) o);
                default -> throw new IllegalArgumentException("GGUF value type " + type);
            }
        }

        void pad() {
            int n = (int) (align(b.position()) - b.position());
            room(n).b.put(new byte[n]);
        }

        void drainTo(WritableByteChannel out) throws IOException {
            b.flip();
            while (b.hasRemaining()) {
                out.write(b);
            }
        }
    }
}
