package org.fmsmo.plugin.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * Builds an ONNX {@code ModelProto}: graph inputs and outputs, initializers (raw little-endian
 * data) and nodes, each node's outputs named after its op and a counter. Field numbers are those
 * of {@code onnx.proto} (IR version 9, opset 19 — the first with {@code float8e4m3fn} in
 * {@code QuantizeLinear}, {@code DequantizeLinear} and {@code Cast} — plus {@code com.microsoft}
 * for contrib ops).
 */
final class OnnxGraph {

    /** {@code TensorProto.DataType}. */
    static final int FLOAT = 1;
    static final int UINT8 = 2;
    static final int INT8 = 3;
    static final int INT32 = 6;
    static final int INT64 = 7;
    static final int FLOAT8E4M3FN = 17;

    static final String MICROSOFT = "com.microsoft";

    /** A node attribute. */
    record Attr(String name, Proto value) {
        static Attr i(String name, long v) {
            return new Attr(name, new Proto().string(1, name).int64(3, v).int64(20, 2));
        }

        static Attr f(String name, float v) {
            return new Attr(name, new Proto().string(1, name).float32(2, v).int64(20, 1));
        }

        static Attr ints(String name, long... v) {
            Proto p = new Proto().string(1, name);
            for (long x : v) {
                p.int64(8, x);
            }
            return new Attr(name, p.int64(20, 7));
        }
    }

    private final List<Proto> nodes = new ArrayList<>();
    /**
     * An initializer: its raw little-endian bytes, held until the model is made, or where they were
     * written in the external data file ({@code raw} null).
     */
    private record Initializer(String name, int dataType, long[] dims, byte[] raw, long offset, long length) {
    }

    private final List<Initializer> initializers = new ArrayList<>();
    private final java.util.Set<String> names = new java.util.HashSet<>();
    private final ExternalData external;

    /**
     * @param external where initializers of {@link ExternalData#SMALLEST} bytes and more are
     *                 written as they are made, so that a model's weights need not all be held at
     *                 once; null to keep every initializer in the graph
     */
    OnnxGraph(ExternalData external) {
        this.external = external;
    }
    private final List<Proto> inputs = new ArrayList<>();
    private final List<Proto> outputs = new ArrayList<>();
    private int counter;

    /** A graph input or output; a dimension is a {@code Long} size or a {@code String} parameter ("batch"). */
    private static Proto valueInfo(String name, int elemType, Object... dims) {
        Proto shape = new Proto();
        for (Object d : dims) {
            shape.message(1, d instanceof String s ? new Proto().string(2, s) : new Proto().int64(1, ((Number) d).longValue()));
        }
        Proto tensor = new Proto().int64(1, elemType).message(2, shape);
        return new Proto().string(1, name).message(2, new Proto().message(1, tensor));
    }

    String input(String name, int elemType, Object... dims) {
        inputs.add(valueInfo(name, elemType, dims));
        return name;
    }

    void output(String value, int elemType, Object... dims) {
        outputs.add(valueInfo(value, elemType, dims));
    }

    /** An initializer from raw little-endian bytes. */
    String tensor(String name, int dataType, long[] dims, byte[] raw) {
        if (!names.add(name)) {
            throw new IllegalStateException("initializer " + name + " added twice");
        }
        if (external != null && raw.length >= ExternalData.SMALLEST) {
            initializers.add(new Initializer(name, dataType, dims.clone(), null, external.append(raw), raw.length));
        } else {
            initializers.add(new Initializer(name, dataType, dims.clone(), raw, -1, raw.length));
        }
        return name;
    }

    private Proto tensorProto(Initializer t) {
        Proto p = new Proto();
        for (long d : t.dims()) {
            p.int64(1, d);
        }
        p.int64(2, t.dataType()).string(8, t.name());
        if (t.raw() == null) {
            p.message(13, new Proto().string(1, "location").string(2, external.location()))
                    .message(13, new Proto().string(1, "offset").string(2, Long.toString(t.offset())))
                    .message(13, new Proto().string(1, "length").string(2, Long.toString(t.length())))
                    .int64(14, 1); // data_location EXTERNAL
        } else {
            p.bytes(9, t.raw());
        }
        return p;
    }

    /** Whether an initializer of this name was added (a tied head reads the embedding table's). */
    boolean has(String name) {
        return names.contains(name);
    }

    String floats(String name, long[] dims, float[] v) {
        if (v.length > Integer.MAX_VALUE / 4) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "tensor " + name + " holds " + v.length + " floats, "
                    + 4L * v.length + " bytes; this exporter writes tensors of at most 2 GiB");
        }
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return tensor(name, FLOAT, dims, b.array());
    }

    private final java.util.Map<String, String> constants = new java.util.HashMap<>();

    /** A float scalar constant, one initializer per value. */
    String scalar(float v) {
        return constants.computeIfAbsent("f" + Float.floatToRawIntBits(v), k -> floats("const_" + k, new long[0], new float[] {v}));
    }

    /** An int64 scalar constant. */
    String longScalar(long v) {
        return constants.computeIfAbsent("l" + v, k -> tensor("const_" + k, INT64, new long[0], le(v)));
    }

    /** A 1-D int64 constant (shapes, axes). */
    String longs(long... v) {
        String key = "v" + java.util.Arrays.toString(v).replaceAll("[^0-9-]+", "_");
        return constants.computeIfAbsent(key, k -> {
            ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            for (long x : v) {
                b.putLong(x);
            }
            return tensor("const_" + k, INT64, new long[] {v.length}, b.array());
        });
    }

    private static byte[] le(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    /** A node of the default domain with one output, named after the op. */
    String op(String opType, List<String> in, Attr... attrs) {
        return node("", opType, in, attrs);
    }

    /** A node of {@code domain} ("" for ONNX's own) with one output. */
    String node(String domain, String opType, List<String> in, Attr... attrs) {
        return named(opType.toLowerCase(java.util.Locale.ROOT) + "_" + counter++, domain, opType, in, attrs);
    }

    /** A node whose output has a chosen name (a graph output). */
    String named(String out, String domain, String opType, List<String> in, Attr... attrs) {
        Proto n = new Proto();
        for (String i : in) {
            n.string(1, i);
        }
        n.string(2, out).string(3, out).string(4, opType);
        for (Attr a : attrs) {
            n.message(5, a.value());
        }
        if (!domain.isEmpty()) {
            n.string(7, domain);
        }
        nodes.add(n);
        return out;
    }

    /** The whole model as one array: for small graphs (one layer's). */
    byte[] model(String graphName) {
        return modelProto(graphName).toByteArray();
    }

    /** The whole model: IR version 9, opset 19 and {@code com.microsoft} 1. */
    Proto modelProto(String graphName) {
        Proto g = new Proto();
        nodes.forEach(n -> g.message(1, n));
        g.string(2, graphName);
        initializers.forEach(t -> g.message(5, tensorProto(t)));
        inputs.forEach(i -> g.message(11, i));
        outputs.forEach(o -> g.message(12, o));
        return new Proto().int64(1, 9).string(2, "fmsmo").string(3, "0.1")
                .message(8, new Proto().string(1, "").int64(2, 19))
                .message(8, new Proto().string(1, MICROSOFT).int64(2, 1))
                .message(7, g);
    }
}
