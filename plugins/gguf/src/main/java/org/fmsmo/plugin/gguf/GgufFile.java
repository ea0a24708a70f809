package org.fmsmo.plugin.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * A GGUF file (version 2 or 3) as read: its metadata and tensor infos, and each tensor's bytes.
 * Every count, length, dimension and offset is checked against the file's size before it is
 * used, so a damaged or hostile file gets a {@link ErrorCode#CORRUPT_INPUT} line, never an
 * allocation of what its header claims.
 */
final class GgufFile {

    /** One tensor's info. */
    record TensorInfo(String name, long[] dims, GgmlType type, long offset, long elements) {
    }

    private final Path path;
    private final Map<String, GgufValue> metadata;
    private final Map<String, TensorInfo> tensors;
    private final MemorySegment data;

    private GgufFile(Path path, Map<String, GgufValue> metadata, Map<String, TensorInfo> tensors, MemorySegment data) {
        this.path = path;
        this.metadata = metadata;
        this.tensors = tensors;
        this.data = data;
    }

    Map<String, GgufValue> metadata() {
        return metadata;
    }

    Map<String, TensorInfo> tensors() {
        return tensors;
    }

    Path path() {
        return path;
    }

    /**
     * A tensor's stored bytes, little-endian.
     *
     * @throws FmsmoException {@link ErrorCode#UNSUPPORTED_SPEC} for a tensor stored in over 2 GiB (F32 with over 512 M values)
     */
    ByteBuffer bytes(TensorInfo t) {
        long n = t.type().bytes(t.elements());
        if (n > Integer.MAX_VALUE) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, path + ": tensor " + t.name() + " is stored in " + n + " bytes of "
                    + t.type() + "; expected at most 2 GiB per tensor (a quantized type, or F16, for tables this large)");
        }
        return data.asSlice(t.offset(), n).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A tensor's values, decoded to floats. */
    float[] floats(TensorInfo t) {
        float[] y = new float[Math.toIntExact(t.elements())];
        t.type().dequantize(bytes(t), y);
        return y;
    }

    /**
     * Maps and checks a file of any size (a 7B model's is 4–15 GB). The mapping is a memory
     * segment, released when the file is no longer reachable; the header is read through a buffer
     * over its first GiB at most, which holds any real header (a Llama 3 file's metadata, with its
     * 128 K-token vocabulary and merges, and tensor infos take about 10 MB).
     */
    private static final long HEADER_WINDOW = 1L << 30;

    static GgufFile read(Path path) {
        MemorySegment all;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), Arena.ofAuto());
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + path + ": " + e.getMessage(), e);
        }
        Cursor c = new Cursor(path, all.asSlice(0, Math.min(all.byteSize(), HEADER_WINDOW)).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
        int magic = c.i32("magic");
        if (magic != 0x46554747) {
            throw c.corrupt(0, "does not start with GGUF (found 0x" + Integer.toHexString(Integer.reverseBytes(magic)) + ")");
        }
        int version = c.i32("version");
        if (version != 2 && version != 3) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, path + ": GGUF version " + version + "; expected 2 or 3");
        }
        long tensorCount = c.count("tensor count", 8 + 4 + 8 + 4 + 8);
        long kvCount = c.count("metadata count", 8 + 4 + 1);
        Map<String, GgufValue> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = c.string("metadata key " + i);
            int type = c.i32(key + "'s type");
            if (metadata.put(key, c.value(key, type)) != null) {
                throw c.corrupt(c.b.position(), "metadata key " + key + " appears twice");
            }
        }
        long alignment = 32;
        if (metadata.containsKey("general.alignment")) {
            GgufValue a = metadata.get("general.alignment");
            if (a.type() != GgufValue.UINT32 || a.asLong() <= 0 || Long.bitCount(a.asLong()) != 1) {
                throw c.corrupt(0, "general.alignment must be a uint32 power of two, found " + a.value());
            }
            alignment = a.asLong();
        }
        List<TensorInfo> infos = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = c.string("tensor name " + i);
            int nDims = c.i32(name + "'s dimension count");
            if (nDims < 1 || nDims > 4) {
                throw c.corrupt(c.b.position(), "tensor " + name + " has " + nDims + " dimensions; expected 1 to 4");
            }
            long[] dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                dims[d] = c.i64(name + "'s dimension " + d);
                if (dims[d] <= 0 || dims[d] > Integer.MAX_VALUE) {
                    throw c.corrupt(c.b.position(), "tensor " + name + " has dimension " + dims[d]);
                }
                elements = Math.multiplyHigh(elements, dims[d]) != 0 || elements * dims[d] > Integer.MAX_VALUE
                        ? Long.MAX_VALUE : elements * dims[d];
            }
            int typeId = c.i32(name + "'s type");
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, path + ": tensor " + name + " has ggml type " + typeId
                        + "; this reader decodes F32, F16, Q4_0, Q8_0 and Q4_K");
            }
            if (elements == Long.MAX_VALUE || !type.fits(dims[0])) {
                throw c.corrupt(c.b.position(), "tensor " + name + " of dims " + java.util.Arrays.toString(dims) + " cannot be stored as " + type);
            }
            long offset = c.i64(name + "'s offset");
            if (offset % alignment != 0) {
                throw c.corrupt(c.b.position(), "tensor " + name + "'s offset " + offset + " is not a multiple of the alignment " + alignment);
            }
            infos.add(new TensorInfo(name, dims, type, offset, elements));
        }
        long dataStart = (c.b.position() + alignment - 1) / alignment * alignment;
        // a file without tensors may end before the data section's alignment padding (fuzzing found one)
        long dataBytes = Math.max(0, all.byteSize() - dataStart);
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (TensorInfo t : infos) {
            long bytes = t.type().bytes(t.elements());
            if (t.offset() < 0 || t.offset() + bytes > dataBytes) {
                throw c.corrupt(dataStart + t.offset(), "tensor " + t.name() + " (" + bytes + " bytes at data offset " + t.offset()
                        + ") runs past the end of the file (" + Math.max(0, dataBytes) + " data bytes)");
            }
            if (tensors.put(t.name(), t) != null) {
                throw c.corrupt(0, "tensor " + t.name() + " appears twice");
            }
        }
        MemorySegment data = dataBytes == 0 ? MemorySegment.NULL : all.asSlice(dataStart, dataBytes);
        return new GgufFile(path, Collections.unmodifiableMap(metadata), Collections.unmodifiableMap(tensors), data);
    }

    /** Reads the header, checking each length against what is left. */
    private static final class Cursor {
        final Path path;
        final ByteBuffer b;

        Cursor(Path path, ByteBuffer b) {
            this.path = path;
            this.b = b;
        }

        FmsmoException corrupt(long at, String what) {
            return new FmsmoException(ErrorCode.CORRUPT_INPUT, path + " (byte " + at + "): " + what);
        }

        private void need(long n, String what) {
            if (n < 0 || n > b.remaining()) {
                throw corrupt(b.position(), what + " needs " + n + " bytes but the file has " + b.remaining() + " left");
            }
        }

        int i32(String what) {
            need(4, what);
            return b.getInt();
        }

        long i64(String what) {
            need(8, what);
            return b.getLong();
        }

        /** A count of items, each at least {@code minBytes} long: bounded by what the file can hold. */
        long count(String what, int minBytes) {
            long n = i64(what);
            if (n < 0 || n > b.remaining() / Math.max(1, minBytes) + 1) {
                throw corrupt(b.position() - 8, what + " is " + n + ", more than the file can hold");
            }
            return n;
        }

        String string(String what) {
            long n = i64(what + "'s length");
            need(n, what);
            byte[] u = new byte[(int) n];
            b.get(u);
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(u)).toString();
            } catch (CharacterCodingException e) {
                throw corrupt(b.position() - n, what + " is not UTF-8");
            }
        }

        GgufValue value(String key, int type) {
            if (type == GgufValue.ARRAY) {
                int element = i32(key + "'s element type");
                if (element == GgufValue.ARRAY) {
                    throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, path + ": metadata " + key + " is an array of arrays, which this reader does not take");
                }
                long n = count(key + "'s length", element == GgufValue.STRING ? 8 : width(key, element));
                List<Object> items = new ArrayList<>((int) Math.min(n, 1 << 16));
                for (long i = 0; i < n; i++) {
                    items.add(scalar(key, element));
                }
                return GgufValue.array(element, items);
            }
            return new GgufValue(type, scalar(key, type), -1);
        }

        private int width(String key, int type) {
            return switch (type) {
                case GgufValue.UINT8, GgufValue.INT8, GgufValue.BOOL -> 1;
                case GgufValue.UINT16, GgufValue.INT16 -> 2;
                case GgufValue.UINT32, GgufValue.INT32, GgufValue.FLOAT32 -> 4;
                case GgufValue.UINT64, GgufValue.INT64, GgufValue.FLOAT64 -> 8;
                default -> throw corrupt(b.position(), "metadata " + key + " has value type " + type + "; expected 0 to 12");
            };
        }

        private Object scalar(String key, int type) {
            if (type == GgufValue.STRING) {
                return string(key);
            }
            need(width(key, type), key);
            return switch (type) {
                case GgufValue.UINT8 -> (long) (b.get() & 0xFF);
                case GgufValue.INT8 -> (long) b.get();
                case GgufValue.BOOL -> b.get() != 0;
                case GgufValue.UINT16 -> (long) (b.getShort() & 0xFFFF);
                case GgufValue.INT16 -> (long) b.getShort();
                case GgufValue.UINT32 -> b.getInt() & 0xFFFFFFFFL;
                case GgufValue.INT32 -> (long) b.getInt();
                case GgufValue.FLOAT32 -> (double) b.getFloat();
                case GgufValue.UINT64, GgufValue.INT64 -> b.getLong();
                default -> b.getDouble();
            };
        }
    }
}
