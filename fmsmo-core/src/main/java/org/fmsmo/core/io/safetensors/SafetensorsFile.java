package org.fmsmo.core.io.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.MappedFiles;

/**
 * One {@code .safetensors} file, memory-mapped (any size: FFM segments are not limited to 2 GiB)
 * and read one tensor at a time. The header is validated completely on open: its length, its JSON
 * shape, each dtype, each shape against its byte range, every range inside the file, and no two
 * ranges overlapping; every violation names the file and the tensor. The file is never written.
 * Reads may come from several threads; {@link #close()} must not race with them.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** Headers larger than this are refused (the format's reference implementation uses 100 MB). */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Maps and validates a file.
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} for a malformed file,
     *         {@link ErrorCode#IO_ERROR} when it cannot be read
     */
    public static SafetensorsFile open(Path path) {
        return MappedFiles.parse(path, (arena, all) -> {
            long size = all.byteSize();
            if (size < 8) {
                throw corrupt(path, "file is " + size + " bytes; a safetensors file starts with an 8-byte header length");
            }
            long headerLength = all.get(LONG_LE, 0);
            if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || headerLength > size - 8) {
                throw corrupt(path, "header length " + headerLength + " is impossible: expected 2.." + Math.min(MAX_HEADER_BYTES, size - 8)
                        + " for a file of " + size + " bytes (truncated or not a safetensors file?)");
            }
            byte[] header = all.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment data = all.asSlice(8 + headerLength);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(path, new String(header, StandardCharsets.UTF_8), data.byteSize(), metadata);
            return new SafetensorsFile(path, arena, data, tensors, Collections.unmodifiableMap(metadata));
        });
    }

    private static Map<String, TensorInfo> parseHeader(Path path, String json, long dataSize, Map<String, String> metadata) {
        JsonNode root;
        try {
            root = SafetensorsModel.STRICT_JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw corrupt(path, "header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw corrupt(path, "header must be a JSON object, found " + (root == null ? "nothing" : root.getNodeType()));
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw corrupt(path, "__metadata__ must be an object of strings");
                }
                v.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            tensors.put(name, tensor(path, name, v, dataSize));
        }
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorInfo a = byOffset.get(i - 1);
            TensorInfo b = byOffset.get(i);
            if (b.begin() < a.end()) {
                throw corrupt(path, "tensors '" + a.name() + "' [" + a.begin() + ", " + a.end() + ") and '" + b.name()
                        + "' [" + b.begin() + ", " + b.end() + ") overlap");
            }
        }
        return Collections.unmodifiableMap(tensors);
    }

    private static TensorInfo tensor(Path path, String name, JsonNode v, long dataSize) {
        String where = path + ", tensor '" + name + "'";
        if (!v.isObject() || !v.path("dtype").isTextual() || !v.path("shape").isArray() || !v.path("data_offsets").isArray()
                || v.path("data_offsets").size() != 2) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": expected {\"dtype\": str, \"shape\": [int...], \"data_offsets\": [begin, end]}, found " + v);
        }
        Dtype dtype = Dtype.parse(v.get("dtype").asText(), where);
        long[] shape = new long[v.get("shape").size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = v.get("shape").get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": shape must hold non-negative integers, found " + v.get("shape"));
            }
            shape[i] = d.asLong();
        }
        JsonNode offsets = v.get("data_offsets");
        if (!offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": data_offsets must be two integers, found " + offsets);
        }
        long begin = offsets.get(0).asLong(-1);
        long end = offsets.get(1).asLong(-1);
        if (begin < 0 || end < begin || end > dataSize) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": data_offsets [" + begin + ", " + end
                    + "] must satisfy 0 <= begin <= end <= " + dataSize + " (the data section's size; truncated file?)");
        }
        TensorInfo info = new TensorInfo(name, dtype, shape, begin, end);
        long expected;
        try {
            expected = Math.multiplyExact(info.elements(), dtype.size());
        } catch (ArithmeticException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": shape " + v.get("shape") + " overflows");
        }
        if (expected != end - begin) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": shape " + v.get("shape") + " of " + dtype + " needs "
                    + expected + " bytes but data_offsets give " + (end - begin));
        }
        return info;
    }

    private static FmsmoException corrupt(Path path, String what) {
        return new FmsmoException(ErrorCode.CORRUPT_INPUT, path + ": " + what);
    }

    /** The file. */
    public Path path() {
        return path;
    }

    /** Tensor entries in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The {@code __metadata__} strings. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * A tensor's entry.
     *
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} naming the file
     */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new FmsmoException(ErrorCode.UNKNOWN_NAME, path + ": no tensor '" + name + "' (" + tensors.size() + " tensors)");
        }
        return t;
    }

    /** The raw bytes of a tensor, a read-only view into the mapping (valid until {@link #close()}). */
    public MemorySegment bytes(String name) {
        TensorInfo t = info(name);
        return data.asSlice(t.begin(), t.byteSize()).asReadOnly();
    }

    /**
     * Drops a tensor's pages from this process's memory (they stay in the page cache and are read
     * again if the tensor is used again). Once a tensor has been copied out, its mapped pages
     * would otherwise count in the resident set until the file is closed, so a run that reads a
     * model layer by layer would grow with depth.
     */
    public void release(String name) {
        TensorInfo t = info(name);
        if (data.isMapped() && t.byteSize() > 0) {
            data.asSlice(t.begin(), t.byteSize()).unload();
        }
    }

    /**
     * A floating-point tensor's values as F32 (F64 narrowed; F16, BF16 and FP8 widened exactly).
     *
     * @throws FmsmoException {@link ErrorCode#UNSUPPORTED_SPEC} for integer dtypes or tensors over 2^31 − 1 elements
     */
    public float[] floats(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloat()) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, path + ", tensor '" + name + "': expected a float dtype, found " + t.dtype());
        }
        int n = elementCount(t);
        MemorySegment s = bytes(name);
        float[] out = new float[n];
        FloatConversions.widen(t.dtype(), s, out, n);
        return out;
    }

    /** An integer tensor's values widened to long (BOOL as 0/1, U8 unsigned). */
    public long[] longs(String name) {
        TensorInfo t = info(name);
        if (t.dtype().isFloat()) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, path + ", tensor '" + name + "': expected an integer dtype, found " + t.dtype());
        }
        int n = elementCount(t);
        MemorySegment s = bytes(name);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (t.dtype()) {
                case I64 -> s.getAtIndex(LONG_LE, i);
                case I32 -> s.getAtIndex(INT_LE, i);
                case I16 -> s.getAtIndex(SHORT_LE, i);
                case I8 -> s.get(ValueLayout.JAVA_BYTE, i);
                default -> s.get(ValueLayout.JAVA_BYTE, i) & 0xFF; // U8, BOOL
            };
        }
        return out;
    }

    private int elementCount(TensorInfo t) {
        long n = t.elements();
        if (n > Integer.MAX_VALUE - 8) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, path + ", tensor '" + t.name() + "': " + n
                    + " elements do not fit one Java array; read it in slices with bytes()");
        }
        return (int) n;
    }

    /** Unmaps the file; views from {@link #bytes} become invalid. Idempotent. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
