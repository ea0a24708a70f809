package org.fmsmo.core.io.onnx;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.MappedFiles;

/**
 * The parts of an ONNX model that weight import needs: the graph's nodes (name, op type, inputs,
 * outputs) and its constant tensors (initializers and {@code Constant} nodes' values). The file is
 * memory-mapped and read in place; tensors are decoded on request. Read-only.
 */
public final class OnnxModel implements AutoCloseable {

    /** A graph node. */
    public record Node(String name, String opType, List<String> inputs, List<String> outputs) {
    }

    private final Path path;
    private final Arena arena;
    private final List<Node> nodes;
    private final Map<String, OnnxTensor> tensors;

    private OnnxModel(Path path, Arena arena, List<Node> nodes, Map<String, OnnxTensor> tensors) {
        this.path = path;
        this.arena = arena;
        this.nodes = nodes;
        this.tensors = tensors;
    }

    /**
     * Maps and parses a {@code .onnx} file.
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} naming the file and the message that is malformed
     */
    public static OnnxModel open(Path path) {
        return MappedFiles.parse(path, (arena, all) -> {
            List<Node> nodes = new ArrayList<>();
            Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
            ProtoReader model = new ProtoReader(all, path.toString());
            boolean sawGraph = false;
            try {
                while (model.next()) {
                    if (model.field() == 7) { // ModelProto.graph
                        readGraph(model.message("graph"), nodes, tensors);
                        sawGraph = true;
                    } else {
                        model.skip();
                    }
                }
            } catch (ProtoReader.OnnxFormatException e) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "not a valid ONNX model: " + e.getMessage(), e);
            }
            if (!sawGraph) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, path + ": no graph found; expected an ONNX ModelProto");
            }
            return new OnnxModel(path, arena, Collections.unmodifiableList(nodes), Collections.unmodifiableMap(tensors));
        });
    }

    private static void readGraph(ProtoReader g, List<Node> nodes, Map<String, OnnxTensor> tensors) {
        while (g.next()) {
            switch (g.field()) {
                case 1 -> nodes.add(readNode(g.message("node #" + nodes.size()), tensors));
                case 5 -> {
                    OnnxTensor t = readTensor(g.message("initializer #" + tensors.size()));
                    tensors.put(t.name(), t);
                }
                default -> g.skip();
            }
        }
    }

    private static Node readNode(ProtoReader n, Map<String, OnnxTensor> tensors) {
        String name = "";
        String op = "";
        List<String> in = new ArrayList<>();
        List<String> out = new ArrayList<>();
        OnnxTensor constant = null;
        while (n.next()) {
            switch (n.field()) {
                case 1 -> in.add(n.string());
                case 2 -> out.add(n.string());
                case 3 -> name = n.string();
                case 4 -> op = n.string();
                case 5 -> {
                    OnnxTensor t = readTensorAttribute(n.message("attribute"));
                    constant = t != null ? t : constant;
                }
                default -> n.skip();
            }
        }
        if (op.equals("Constant") && constant != null && out.size() == 1) {
            // A Constant node is an initializer in disguise; its output names the value.
            tensors.put(out.getFirst(), constant.renamed(out.getFirst()));
        }
        return new Node(name, op, List.copyOf(in), List.copyOf(out));
    }

    /** The tensor of an attribute called {@code value}, or null. */
    private static OnnxTensor readTensorAttribute(ProtoReader a) {
        String name = null;
        OnnxTensor t = null;
        while (a.next()) {
            switch (a.field()) {
                case 1 -> name = a.string();
                case 5 -> t = readTensor(a.message("attribute tensor"));
                default -> a.skip();
            }
        }
        return "value".equals(name) ? t : null;
    }

    private static OnnxTensor readTensor(ProtoReader t) {
        List<Long> dims = new ArrayList<>();
        int dataType = 0;
        String name = "";
        MemorySegment raw = null;
        MemorySegment packedFloats = null;
        List<Float> looseFloats = new ArrayList<>();
        List<Long> ints = new ArrayList<>();
        boolean external = false;
        while (t.next()) {
            switch (t.field()) {
                case 1 -> t.int64s(dims::add);
                case 2 -> dataType = (int) t.varint();
                case 4 -> {
                    if (t.wireType() == ProtoReader.FIXED32) {
                        looseFloats.add(t.fixed32Float());
                    } else {
                        packedFloats = t.bytes();
                    }
                }
                case 5, 7 -> t.int64s(ints::add); // int32_data, int64_data
                case 8 -> name = t.string();
                case 9 -> raw = t.bytes();
                case 14 -> external = t.varint() == 1;
                default -> t.skip();
            }
        }
        if (external) {
            throw t.corrupt("tensor '" + name + "' keeps its data in an external file, which this importer does not read;"
                    + " re-save the model with all tensors inside the .onnx file");
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        float[] floats = null;
        if (packedFloats != null) {
            if (packedFloats.byteSize() % Float.BYTES != 0) { // found by fuzzing: a truncated float_data
                throw t.corrupt("tensor '" + name + "' has " + packedFloats.byteSize() + " bytes of packed float_data, not a multiple of 4");
            }
            floats = packedFloats.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
        } else if (!looseFloats.isEmpty()) {
            floats = new float[looseFloats.size()];
            for (int i = 0; i < floats.length; i++) {
                floats[i] = looseFloats.get(i);
            }
        }
        long[] longs = ints.isEmpty() ? null : ints.stream().mapToLong(Long::longValue).toArray();
        return new OnnxTensor(name, dataType, shape, raw, floats, longs, t.where());
    }

    public Path path() {
        return path;
    }

    /** Every node in graph order. */
    public List<Node> nodes() {
        return nodes;
    }

    /** Every constant tensor by name: initializers first, then Constant node outputs. */
    public Map<String, OnnxTensor> tensors() {
        return tensors;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
