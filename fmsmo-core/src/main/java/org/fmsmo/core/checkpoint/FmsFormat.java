package org.fmsmo.core.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.format.CheckpointFormat;
import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.api.format.CheckpointSink;
import org.fmsmo.api.format.CheckpointSource;
import org.fmsmo.api.format.StoredTensor;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.io.safetensors.TensorInfo;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Bmm;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.quant.QBmm;
import org.fmsmo.core.quant.QLinear;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.quant.QuantizerModes;

/**
 * fmsmo's own checkpoint format, {@value #NAME}: a Hugging Face folder whose
 * {@code model.safetensors} holds the float weights as the quantized model uses them (SmoothQuant
 * scales folded in), in F32 whatever the source dtype, plus each quantizer's state under fms-mo's
 * names ({@code L.quantize_weight.clip_val}, {@code L.quantize_feature.clip_val},
 * {@code L.smoothq_scale}; a matmul's {@code L.quantize_m1.*}, {@code L.quantize_m2.*}), with each
 * layer's modes and specs in {@code fms_quant_layers.json}. Loading it rebuilds the wrappers and
 * restores their state, so no recalibration is needed and training can go on; any Hugging Face
 * loader still reads it as a float model, since it sets no {@code quantization_config}.
 */
public final class FmsFormat implements CheckpointFormats.Rewrapping {

    /** The format's name: {@code --format fms}, and what {@code config.json} records. */
    public static final String NAME = "fms";

    /** A layer's online input rotation ({@code [in, in]}), beside its weight. */
    private static final String ROTATION = ".online_rotation";

    /** The per-layer file: which wrapper, quantizer modes and specs each layer had. */
    public static final String LAYERS_FILE = "fms_quant_layers.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public boolean isStateTensor(String name) {
        return name.contains(".quantize_") || name.endsWith(".smoothq_scale");
    }

    @Override
    public boolean canWrite(QuantizableModel model) {
        return true; // every wrapper the host builds has a mode and a spec; frozen weights are stored as codes
    }

    @Override
    public String floatDtype() {
        return "F32"; // the weights may still be trained (a QAT checkpoint); rounding them would lose what was learned
    }

    /** Nothing is dequantized: the float weights are stored as they are, and {@link #rewrap} restores the quantizers. */
    @Override
    public Map<String, float[]> read(CheckpointSource source) {
        return Map.of();
    }

    @Override
    public void write(QuantizableModel quantizable, CheckpointSink sink) {
        TransformerModel model = (TransformerModel) quantizable;
        ArrayNode layers = JSON.createArrayNode();
        for (LinearLayer l : model.linearLayers()) {
            LinearLayer inner = l instanceof QLinear q ? q.wrapped() : l;
            if (inner instanceof Linear plain && plain.inputDivisor().isPresent()) {
                float[] s = plain.inputDivisor().get().toFloatArray();
                sink.add(l.name() + ".smoothq_scale", StoredTensor.ofFloats(new long[] {s.length}, s));
            }
            if (inner instanceof Linear plain && plain.inputRotation().isPresent()) {
                NDArray r = plain.inputRotation().get();
                sink.add(l.name() + ROTATION, StoredTensor.ofFloats(r.getShape().getShape(), r.toFloatArray()));
            }
            if (l instanceof QLinear q) {
                ObjectNode e = entry(layers, l.name(), "linear");
                describe(e, "weight", q.weightQuantizer());
                // A frozen weight is stored as its codes and scales, so reloading needs no re-quantization: that
                // would not repeat a method's own rounding (GPTQ's, a stochastic one) nor find a quantizer that
                // is not a registered mode. An unfrozen one (training) keeps its quantizer's learned state.
                if (q.isFrozen()) {
                    e.put("weight_frozen", "codes");
                    addCodes(sink, l.name() + ".quantize_weight", q.frozenWeight());
                } else {
                    addState(sink, l.name() + ".quantize_weight", q.weightQuantizer());
                }
                q.inputQuantizer().ifPresent(iq -> {
                    describe(e, "input", iq);
                    addState(sink, l.name() + ".quantize_feature", iq);
                });
            }
        }
        model.forEachBmm("", (name, b) -> {
            if (b instanceof QBmm q) {
                ObjectNode e = entry(layers, name, "bmm");
                if (q.first() != null) { // null: the KV cache, only the second operand quantized
                    describe(e, "input", q.first());
                    addState(sink, name + ".quantize_m1", q.first());
                }
                describe(e, "weight", q.second());
                addState(sink, name + ".quantize_m2", q.second());
            }
        });
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("format", "fms-native");
        root.put("version", 1);
        root.put("layers", JSON.convertValue(layers, List.class));
        sink.jsonFile(LAYERS_FILE, root);
    }

    private static ObjectNode entry(ArrayNode layers, String name, String kind) {
        ObjectNode e = layers.addObject();
        e.put("name", name);
        e.put("kind", kind);
        return e;
    }

    private static void describe(ObjectNode e, String role, Quantizer q) {
        e.put(role + "_mode", q.mode());
        e.put(role + "_spec", q.spec().toString());
    }

    /** Codes a method computed (GPTQ) are stored as they are: codes, scale, zero point, group index. */
    private static void addCodes(CheckpointSink sink, String prefix, QuantizedTensor t) {
        long[] shape = t.shape().getShape();
        // the codes' own byte type: int8 for symmetric INT, uint8 for asymmetric INT and for FP8 bit patterns
        sink.add(prefix + ".codes", StoredTensor.ofBytes(t.codes().getDataType() == DataType.INT8 ? "I8" : "U8", shape, t.codes().toByteArray()));
        sink.add(prefix + ".scale", StoredTensor.ofFloats(t.scale().getShape().getShape(), t.scale().toFloatArray()));
        t.zeroPoint().ifPresent(z -> sink.add(prefix + ".zero_point", StoredTensor.ofInts(z.getShape().getShape(), z.toIntArray())));
        t.groupIndex().ifPresent(g -> sink.add(prefix + ".g_idx", StoredTensor.ofInts(g.getShape().getShape(), g.toIntArray())));
    }

    private static void addState(CheckpointSink sink, String prefix, Quantizer q) {
        q.state().forEach((k, v) -> sink.add(prefix + "." + k, StoredTensor.ofFloats(new long[] {v.length}, v)));
    }

    /** The stored codes of a layer frozen by its method. */
    private static QuantizedTensor readCodes(TransformerModel model, SafetensorsModel checkpoint, String prefix, QuantSpec spec, Path file) {
        var m = model.manager();
        String codesName = prefix + ".codes";
        if (!checkpoint.names().contains(codesName) || !checkpoint.names().contains(prefix + ".scale")) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": layer frozen from codes needs " + codesName + " and " + prefix + ".scale");
        }
        TensorInfo info = checkpoint.info(codesName);
        byte[] raw = checkpoint.file(codesName).bytes(codesName).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        if (info.dtype() != Dtype.I8 && info.dtype() != Dtype.U8) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": " + codesName + " is " + info.dtype() + "; expected I8 or U8 codes");
        }
        NDArray codes = m.create(java.nio.ByteBuffer.wrap(raw), new Shape(info.shape()), info.dtype() == Dtype.I8 ? DataType.INT8 : DataType.UINT8);
        float[] s = checkpoint.floats(prefix + ".scale");
        for (int i = 0; i < s.length; i++) {
            if (!(s[i] >= 0) || Float.isInfinite(s[i])) { // NaN or ∞ would poison the layer's every output
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": " + prefix + ".scale[" + i + "] is " + s[i] + "; expected finite scales ≥ 0");
            }
        }
        NDArray scale = m.create(s, new Shape(checkpoint.info(prefix + ".scale").shape()));
        NDArray zero = checkpoint.names().contains(prefix + ".zero_point") ? intArray(m, checkpoint, prefix + ".zero_point") : null;
        NDArray gIdx = checkpoint.names().contains(prefix + ".g_idx") ? intArray(m, checkpoint, prefix + ".g_idx") : null;
        return new QuantizedTensor(spec, codes, scale, zero, gIdx);
    }

    private static NDArray intArray(ai.djl.ndarray.NDManager m, SafetensorsModel checkpoint, String name) {
        long[] v = checkpoint.file(name).longs(name);
        int[] i = new int[v.length];
        for (int k = 0; k < v.length; k++) {
            i[k] = Math.toIntExact(v[k]);
        }
        return m.create(i, new Shape(checkpoint.info(name).shape()));
    }

    /**
     * Rebuilds the wrappers of a native checkpoint on a freshly loaded model and restores their
     * state, with quantizers of the modes {@code plugins} has (built-in and plugins'). Linear
     * layers end frozen; with {@code freeze} false they stay unfrozen with their restored (learned)
     * quantizer state, to go on training.
     */
    @Override
    public void rewrap(TransformerModel model, SafetensorsModel checkpoint, boolean freeze, PluginRegistry plugins) {
        Path file = checkpoint.dir().resolve(LAYERS_FILE);
        if (!Files.isRegularFile(file)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, checkpoint.dir() + ": an " + NAME + " checkpoint needs " + LAYERS_FILE + ", which is missing");
        }
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "cannot read " + file + ": " + e.getMessage(), e);
        }
        if (!"fms-native".equals(root.path("format").asText()) || !root.path("layers").isArray()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": expected {\"format\": \"fms-native\", \"layers\": […]}");
        }
        for (String name : checkpoint.names()) {
            if (name.endsWith(ROTATION)) {
                String layer = name.substring(0, name.length() - ROTATION.length());
                Shape shape = new Shape(checkpoint.info(name).shape());
                if (!(model.linear(layer) instanceof Linear plain) || !shape.equals(new Shape(plain.inFeatures(), plain.inFeatures()))) {
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": " + layer + " cannot take the online rotation " + name + " " + shape);
                }
                plain.setInputRotation(model.manager().create(checkpoint.floats(name), shape));
            }
            if (name.endsWith(".smoothq_scale")) {
                String layer = name.substring(0, name.length() - ".smoothq_scale".length());
                if (!(model.linear(layer) instanceof Linear plain)) {
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": " + layer + " cannot take a smoothing scale");
                }
                plain.setInputDivisor(model.manager().create(checkpoint.floats(name)));
            }
        }
        for (JsonNode e : root.get("layers")) {
            String name = text(e, "name", file);
            switch (text(e, "kind", file)) {
                case "linear" -> {
                    boolean codes = "codes".equals(e.path("weight_frozen").asText());
                    Quantizer w = codes ? frozenWeightQuantizer(plugins, text(e, "weight_mode", file), QuantSpec.parse(text(e, "weight_spec", file)))
                            : quantizer(plugins, e, "weight", file, checkpoint, name + ".quantize_weight");
                    Quantizer in = e.has("input_mode") ? quantizer(plugins, e, "input", file, checkpoint, name + ".quantize_feature") : null;
                    QLinear q = new QLinear(model.linear(name), w, in);
                    model.replace(name, q);
                    if (codes) {
                        q.freeze(readCodes(model, checkpoint, name + ".quantize_weight", w.spec(), file));
                    } else if (freeze) {
                        q.freeze();
                    }
                }
                case "bmm" -> {
                    Bmm old = model.findBmm(name).orElseThrow(() -> new FmsmoException(ErrorCode.CORRUPT_INPUT,
                            file + ": no attention matmul " + name + " in " + model.architecture()));
                    model.replaceBmm(name, new QBmm(old, e.has("input_mode") ? quantizer(plugins, e, "input", file, checkpoint, name + ".quantize_m1") : null,
                            quantizer(plugins, e, "weight", file, checkpoint, name + ".quantize_m2")));
                }
                default -> throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": layer " + name + " has unknown kind " + e.get("kind"));
            }
        }
    }

    /**
     * The quantizer of a weight stored as codes: its mode from the registry when installed; else
     * (a method's own quantizer, not a registered mode) the host's default mode for the spec, since
     * the stored codes and scales alone define the weight and nothing re-quantizes it.
     */
    private static Quantizer frozenWeightQuantizer(PluginRegistry plugins, String mode, QuantSpec spec) {
        boolean installed = plugins.names(ProviderKind.QUANTIZER).contains(mode);
        return plugins.get(QuantizerProvider.class, installed ? mode : QuantizerModes.defaultMode(spec)).create(spec);
    }

    /** A quantizer that runs (activations, unfrozen weights): its mode must be installed. */
    private static Quantizer quantizer(PluginRegistry plugins, JsonNode e, String role, Path file, SafetensorsModel checkpoint, String prefix) {
        String mode = text(e, role + "_mode", file);
        if (!plugins.names(ProviderKind.QUANTIZER).contains(mode)) {
            throw new FmsmoException(ErrorCode.UNKNOWN_NAME, file + ": layer " + text(e, "name", file) + " runs its " + role + " through quantizer mode '"
                    + mode + "', which no installed plugin provides (installed: " + plugins.names(ProviderKind.QUANTIZER) + ")");
        }
        Quantizer q = plugins.get(QuantizerProvider.class, mode).create(QuantSpec.parse(text(e, role + "_spec", file)));
        Map<String, float[]> state = new LinkedHashMap<>();
        for (String n : checkpoint.names()) {
            if (n.startsWith(prefix + ".")) {
                state.put(n.substring(prefix.length() + 1), checkpoint.floats(n));
            }
        }
        if (!state.isEmpty()) {
            q.loadState(state);
        }
        return q;
    }

    private static String text(JsonNode e, String key, Path file) {
        JsonNode v = e.get(key);
        if (v == null || !v.isTextual()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": layer entry " + e + " needs a text field '" + key + "'");
        }
        return v.asText();
    }

    /** {@value #NAME}: the host's own format. */
    public static final class Provider implements CheckpointFormatProvider {
        @Override
        public String name() {
            return NAME;
        }

        @Override
        public String description() {
            return "fmsmo's own: F32 weights with each quantizer's state and codes, reloaded with its wrappers (to evaluate or to train on)";
        }

        @Override
        public CheckpointFormat create() {
            return new FmsFormat();
        }
    }
}
