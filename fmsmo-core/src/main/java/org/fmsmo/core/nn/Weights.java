package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.FloatConversions;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.io.safetensors.TensorData;
import org.fmsmo.core.io.safetensors.TensorInfo;

/**
 * Hands a checkpoint's tensors to the module constructors, one tensor at a time, as FLOAT32
 * arrays in the model's manager. Each tensor goes from the file mapping into native memory
 * directly (converted from BF16/F16/FP8 on the way), never through the Java heap, so loading a
 * model of any size needs heap for nothing but names. Remembers which tensors were taken, so
 * that the loader can report missing and unexpected ones.
 */
public final class Weights {

    private final SafetensorsModel checkpoint;
    private final NDManager manager;
    private final List<String> optionalPrefixes;
    private final Set<String> taken = new HashSet<>();
    private final java.util.Map<String, float[]> dequantized = new java.util.HashMap<>();
    private final Set<String> formatTensors = new HashSet<>();

    /**
     * @param optionalPrefixes Hugging Face's base-model prefixes ({@code model.}, {@code transformer.}, {@code bert.}):
     *                         a checkpoint saved with a task head has them before every base-model name, one
     *                         saved as the bare model has not. Tried both ways when the plain name is absent.
     */
    public Weights(SafetensorsModel checkpoint, NDManager manager, List<String> optionalPrefixes) {
        this.checkpoint = checkpoint;
        this.manager = manager;
        this.optionalPrefixes = List.copyOf(optionalPrefixes);
    }

    public NDManager manager() {
        return manager;
    }

    /**
     * Float weights a checkpoint format decoded from its own tensors (packed codes, scales …):
     * {@code take("L.weight")} returns these, and {@code storedTensors} count as used.
     */
    public void addDequantized(java.util.Map<String, float[]> weights, Set<String> storedTensors) {
        dequantized.putAll(weights);
        formatTensors.addAll(storedTensors);
    }

    public boolean has(String name) {
        return dequantized.containsKey(name) || resolve(name) != null;
    }

    /**
     * A required tensor of the given shape.
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} naming the tensor and folder when it is missing,
     *         or naming its file when its shape or dtype is wrong
     */
    public NDArray take(String name, long... shape) {
        return find(name, shape).orElseThrow(() -> new FmsmoException(ErrorCode.CORRUPT_INPUT, "tensor '" + name
                + "' of shape " + Arrays.toString(shape) + " is missing from the checkpoint in " + checkpoint.dir()));
    }

    /** A tensor that some configurations have (biases): empty when absent, checked when present. */
    public Optional<NDArray> find(String name, long... shape) {
        float[] decoded = dequantized.get(name);
        if (decoded != null) {
            if (decoded.length != Arrays.stream(shape).reduce(1, (a, b) -> a * b)) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, checkpoint.dir() + ", layer weight '" + name + "': expected shape "
                        + Arrays.toString(shape) + " from config.json, the quantized tensors give " + decoded.length + " values");
            }
            return Optional.of(NativeMemory.engineFloats(manager, decoded, new Shape(shape)));
        }
        String stored = resolve(name);
        if (stored == null) {
            return Optional.empty();
        }
        SafetensorsFile file = checkpoint.file(stored);
        TensorInfo info = file.info(stored);
        if (!Arrays.equals(info.shape(), shape)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file.path() + ", tensor '" + stored + "': expected shape "
                    + Arrays.toString(shape) + " from config.json, found " + Arrays.toString(info.shape()));
        }
        if (!info.dtype().isFloat()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file.path() + ", tensor '" + stored + "': expected a float dtype, found "
                    + info.dtype());
        }
        taken.add(stored);
        NDArray array = toArray(file.bytes(stored), info);
        file.release(stored); // copied out: the mapped pages need not stay resident
        return Optional.of(array);
    }

    /** A {@code Linear} named {@code prefix} from {@code prefix.weight} [out, in] and, when {@code bias}, {@code prefix.bias}. */
    public Linear linear(String prefix, long in, long out, boolean bias) {
        NDArray w = take(prefix + ".weight", out, in);
        NDArray b = bias ? take(prefix + ".bias", out) : null;
        return new Linear(prefix, w, b);
    }

    /**
     * A {@code Linear} from a weight stored {@code [in, out]} (GPT-2's {@code Conv1D}), held
     * {@code [out, in]} like every other; the transpose is made once, here, so that every
     * consumer sees a contiguous weight. A layer a checkpoint format stores quantized is in
     * {@code [out, in]} already (packed codes are written that way).
     */
    public Linear transposedLinear(String prefix, long in, long out, boolean bias) {
        if (dequantized.containsKey(prefix + ".weight")) {
            return linear(prefix, in, out, bias); // a quantized layer is stored [out, in], as vLLM reads packed weights
        }
        NDArray stored = take(prefix + ".weight", in, out);
        float[] t = TensorData.transpose(stored.toFloatArray(), Math.toIntExact(in), Math.toIntExact(out));
        stored.close();
        NDArray w = manager.create(t, new Shape(out, in));
        NDArray b = bias ? take(prefix + ".bias", out) : null;
        return new Linear(prefix, w, b);
    }

    /** Stored names no module asked for, sorted. */
    public Set<String> untaken() {
        Set<String> rest = new TreeSet<>(checkpoint.names());
        rest.removeAll(taken);
        rest.removeAll(formatTensors);
        return rest;
    }

    private String resolve(String name) {
        return resolve(checkpoint.names(), name, optionalPrefixes);
    }

    /**
     * The stored name of {@code name}: itself, or with one of {@code prefixes} added or taken
     * away (see the constructor); null when the checkpoint has none of them.
     */
    public static String resolve(Set<String> stored, String name, List<String> prefixes) {
        if (stored.contains(name)) {
            return name;
        }
        for (String p : prefixes) {
            if (name.startsWith(p) && stored.contains(name.substring(p.length()))) {
                return name.substring(p.length());
            }
            if (stored.contains(p + name)) {
                return p + name;
            }
        }
        return null;
    }

    private NDArray toArray(MemorySegment src, TensorInfo info) {
        Dtype dtype = info.dtype();
        // widened straight into the engine's array: no staging copy, no Java-heap copy
        return NativeMemory.engineFloats(manager, new Shape(info.shape()),
                (dst, first) -> FloatConversions.widen(dtype, src.asSlice(first * dtype.size()), dst, dst.byteSize() / 4));
    }
}
