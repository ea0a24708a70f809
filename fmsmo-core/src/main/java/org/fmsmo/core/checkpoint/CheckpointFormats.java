package org.fmsmo.core.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.format.CheckpointFormat;
import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.api.format.CheckpointSink;
import org.fmsmo.api.format.CheckpointSource;
import org.fmsmo.api.format.InputQuantization;
import org.fmsmo.api.format.StoredTensor;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.io.safetensors.TensorData;
import org.fmsmo.core.io.safetensors.TensorInfo;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Weights;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.plugin.RegisteredProvider;
import org.fmsmo.core.quant.InputQuantizedLinear;
import org.fmsmo.core.quant.QuantizerModes;
import org.fmsmo.core.recipe.Recipes;

/**
 * The host side of {@link CheckpointFormat} plugins: gives a format a {@link CheckpointSink} and
 * writes what it said — unquantized tensors in the dtype the source checkpoint had, companion
 * files, {@code config.json} with the {@code quantization_config} and the format's name
 * ({@value #FORMAT_KEY}) — atomically; and on loading, takes the format of that name from the
 * caller's plugin registry and its dequantized weights.
 */
public final class CheckpointFormats {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * {@code config.json} key naming the checkpoint format plugin a folder was written with: how
     * its reader is found. A folder written by another tool has none; its
     * {@code quantization_config.quant_method} (the key Hugging Face transformers picks its own
     * quantizer by) names the format instead.
     */
    public static final String FORMAT_KEY = "fmsmo_checkpoint_format";

    private CheckpointFormats() {
    }

    /**
     * Writes {@code model} in {@code format} to {@code out} (which must not exist). The format's {@code write} refuses a layer it cannot hold,
     * naming it, before anything is written.
     */
    public static Path write(TransformerModel model, String formatName, CheckpointFormat format, Path out) {
        return write(model, formatName, format, out, null);
    }

    /**
     * As {@link #write(TransformerModel, String, CheckpointFormat, Path)}, with the run's config
     * beside the model ({@value Recipes#CONFIG_FILE}), so that the folder says how it was made.
     */
    public static Path write(TransformerModel model, String formatName, CheckpointFormat format, Path out, QuantConfig runConfig) {
        if (!(format instanceof Rewrapping)) {
            for (org.fmsmo.api.model.LinearLayer l : model.linearLayers()) {
                org.fmsmo.api.model.LinearLayer inner = l instanceof org.fmsmo.api.quant.LayerWrapper w ? w.wrapped() : l;
                if (inner instanceof org.fmsmo.core.nn.Linear plain && plain.runTimeInputTransform() != null) {
                    throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "layer " + l.name() + " " + plain.runTimeInputTransform() + ", which "
                            + formatName + " cannot hold; write --format " + FmsFormat.NAME + (plain.inputDivisor().isPresent()
                            ? ", or set smoothq_fold_only=true (the quantize CLI does for deployable formats) or smoothq=false"
                            : ", or rotate offline only (--rotate)"));
                }
            }
        }
        FormatSink sink = new FormatSink();
        format.write(model, sink);
        Map<String, List<TensorData>> replaced = new LinkedHashMap<>();
        sink.replaced().forEach((layer, tensors) -> {
            List<TensorData> list = new ArrayList<>();
            tensors.forEach((name, t) -> list.add(FormatSink.tensorData(name, t)));
            replaced.put(layer + ".weight", list);
        });
        List<TensorData> added = sink.takeAdded();
        for (TensorData t : added) {
            if (model.parameters().containsKey(t.name())) {
                throw new IllegalStateException(format.getClass().getName() + " added tensor " + t.name() + ", which is a model parameter");
            }
        }
        ObjectNode config = model.config().json();
        describe(config, formatName, format, sink);
        Function<String, Dtype> dtypes = sourceDtypes(model);
        if (format.floatDtype() != null) {
            Dtype all = Dtype.parse(format.floatDtype(), formatName + "'s float dtype");
            if (all != Dtype.F32 && all != Dtype.F16 && all != Dtype.BF16) {
                throw new IllegalStateException(format.getClass().getName() + " asks for float tensors in " + all + "; expected F32, F16 or BF16");
            }
            dtypes = name -> all;
            config.put("torch_dtype", switch (all) {
                case F16 -> "float16";
                case BF16 -> "bfloat16";
                default -> "float32";
            });
        }
        Map<String, String> text = new LinkedHashMap<>(sink.text());
        if (runConfig != null) {
            text.putIfAbsent(Recipes.CONFIG_FILE, Recipes.toJson(runConfig));
        }
        return ModelWriter.save(model, out, dtypes, replaced, added, config, text);
    }

    /** Puts the format's name and its {@code quantization_config}, if it set one, into {@code config}. */
    public static void describe(ObjectNode config, String formatName, CheckpointFormat format, FormatSink sink) {
        config.remove("quantization_config");
        if (sink.quantizationConfig() != null) {
            config.set("quantization_config", JSON.valueToTree(sink.quantizationConfig()));
        }
        config.put(FORMAT_KEY, formatName);
    }

    /** Each float parameter's dtype in the source checkpoint (F32 when it is not stored there as F32, F16 or BF16). */
    private static Function<String, Dtype> sourceDtypes(TransformerModel model) {
        Map<String, Dtype> dtypes = new LinkedHashMap<>();
        try (SafetensorsModel src = SafetensorsModel.open(model.dir())) {
            for (String n : src.names()) {
                Dtype d = src.info(n).dtype();
                if (d == Dtype.F16 || d == Dtype.BF16 || d == Dtype.F32) {
                    dtypes.put(n, d);
                }
            }
        }
        return name -> dtypes.getOrDefault(name, dtypes.getOrDefault("bert." + name, Dtype.F32));
    }

    /**
     * The name of the format a folder was written in: the one fmsmo recorded ({@value #FORMAT_KEY});
     * in a folder another tool wrote, {@code quantization_config.quant_method}; in an fms folder
     * written before the name was recorded, {@value FmsFormat#NAME}. Empty for a float checkpoint.
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} for a {@code quantization_config} that names no format
     */
    public static java.util.Optional<String> formatName(HfConfig config) {
        JsonNode recorded = config.json().get(FORMAT_KEY);
        if (recorded != null) {
            if (!recorded.isTextual() || recorded.asText().isEmpty()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, config.file() + ": " + FORMAT_KEY + " must be a format's name, found " + recorded);
            }
            return java.util.Optional.of(recorded.asText());
        }
        JsonNode qc = config.json().get("quantization_config");
        if (qc != null && !qc.isNull()) {
            if (!qc.isObject()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, config.file() + ": quantization_config must be a JSON object, found " + qc.getNodeType());
            }
            String name = qc.path("quant_method").asText("");
            if (name.isEmpty()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, config.file() + ": a quantization_config without quant_method (and no " + FORMAT_KEY
                        + "): cannot tell which checkpoint format reads it");
            }
            return java.util.Optional.of(name);
        }
        boolean legacyFms = config.file().getParent() != null && java.nio.file.Files.isRegularFile(config.file().resolveSibling(FmsFormat.LAYERS_FILE));
        return legacyFms ? java.util.Optional.of(FmsFormat.NAME) : java.util.Optional.empty();
    }

    /**
     * The format that reads a quantized checkpoint, found by {@link #formatName} in the caller's
     * registry, once for a model decoded part by part (a streamed model, block by block). Null for
     * a float checkpoint.
     *
     * @throws FmsmoException {@link ErrorCode#UNSUPPORTED_SPEC} when {@code plugins} has no format of that name
     */
    public static Reader reader(HfConfig config, PluginRegistry plugins) {
        String name = formatName(config).orElse(null);
        if (name == null) {
            return null;
        }
        String from = config.json().has(FORMAT_KEY) ? FORMAT_KEY : config.has("quantization_config") ? "quantization_config.quant_method" : FmsFormat.LAYERS_FILE;
        JsonNode qc = config.json().get("quantization_config");
        Map<String, Object> qcMap = qc == null || !qc.isObject() ? Map.of()
                : JSON.convertValue(qc, new com.fasterxml.jackson.core.type.TypeReference<LinkedHashMap<String, Object>>() { });
        List<String> installed = new ArrayList<>();
        for (RegisteredProvider<CheckpointFormatProvider> p : plugins.providers(CheckpointFormatProvider.class)) {
            installed.add(p.provider().name());
            if (p.provider().name().equals(name)) {
                return new Reader(p.provider().create(), config.file().toString(), qcMap);
            }
        }
        throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, config.file() + ": " + from + " says '" + name
                + "', and no installed checkpoint format has that name (installed: " + installed
                + "); put the plugin that provides it in the plugins folder, or name its folder with --plugins-dir");
    }

    /**
     * A format that stores live quantizers rather than a deployable layout ({@value FmsFormat#NAME}):
     * after the model is built from the stored float weights, it wraps the layers again and restores
     * each quantizer's state. Host-side, since the wrappers are the host's.
     */
    public interface Rewrapping extends CheckpointFormat {

        /**
         * Wraps {@code model}'s layers as {@code checkpoint} records, with quantizers of the modes
         * {@code plugins} has. Linear layers end frozen; with {@code freeze} false those stored
         * unfrozen keep their learned state unfrozen, to go on training.
         */
        void rewrap(TransformerModel model, SafetensorsModel checkpoint, boolean freeze, PluginRegistry plugins);

        /** Whether a stored tensor is quantizer state that {@link #rewrap} reads, not a model weight. */
        boolean isStateTensor(String name);
    }

    /** A quantized checkpoint's format, resolved once; decodes the whole checkpoint or the part under a prefix. */
    public static final class Reader {
        private final CheckpointFormat format;
        private final String location;
        private final Map<String, Object> quantizationConfig;

        private Reader(CheckpointFormat format, String location, Map<String, Object> quantizationConfig) {
            this.format = format;
            this.location = location;
            this.quantizationConfig = quantizationConfig;
        }

        /**
         * Gives {@code weights} the dequantized weights of the layers under {@code prefix} ("" for
         * all); returns what the serving engine quantizes at run time there: layer inputs, the KV cache.
         */
        public RunTime dequantizeInto(SafetensorsModel checkpoint, Weights weights, String prefix) {
            Source source = new Source(location, quantizationConfig, checkpoint, prefix);
            Map<String, float[]> layers = format.read(source);
            Map<String, float[]> byWeight = new LinkedHashMap<>();
            layers.forEach((layer, w) -> byWeight.put(layer + ".weight", w));
            RunTime runTime = new RunTime(format.inputQuantization(source), format.kvCache(source), location);
            weights.addDequantized(byWeight, source.read);
            return runTime;
        }

        /** Whether the model must be wrapped again after it is built ({@link #rewrap}); such a model is loaded whole. */
        public boolean rewraps() {
            return format instanceof Rewrapping;
        }

        /** Wraps the built model's layers again, for a {@link Rewrapping} format; nothing for the others. */
        public void rewrap(TransformerModel model, SafetensorsModel checkpoint, boolean freeze, PluginRegistry plugins) {
            if (format instanceof Rewrapping r) {
                r.rewrap(model, checkpoint, freeze, plugins);
            }
        }

        /** Whether a stored tensor is state the format reads itself, not a model weight. */
        public boolean isStateTensor(String name) {
            return format instanceof Rewrapping r && r.isStateTensor(name);
        }
    }

    /**
     * What a checkpoint's serving engine quantizes as it runs: layer inputs, and the KV cache.
     *
     * @param inputs  by layer
     * @param kvCache by attention module
     */
    public record RunTime(Map<String, InputQuantization> inputs, Map<String, org.fmsmo.api.quant.KvCacheScales> kvCache, String location) {

        /** Nothing quantized at run time (a float checkpoint). */
        public static final RunTime NONE = new RunTime(Map.of(), Map.of(), "");

        /** Quantizes them in a loaded model, or one block of a streamed one ({@code root}: its module tree). */
        public void applyTo(QuantizableModel model, org.fmsmo.core.nn.Module root) {
            quantizeInputs(model, inputs);
            org.fmsmo.core.quant.KvCache.apply(root, kvCache, location);
        }
    }

    /**
     * Wraps each named layer of a freshly loaded model so that its input is quantized as the
     * checkpoint's serving engine would: per-token FP8 or INT, or per tensor with the stored
     * static scale (or each tensor's own range, symmetric or not, when none is stored).
     */
    public static void quantizeInputs(QuantizableModel model, Map<String, InputQuantization> inputs) {
        for (Map.Entry<String, InputQuantization> e : inputs.entrySet()) {
            QuantSpec spec = e.getValue().spec();
            boolean fp8 = spec.type() == QuantType.FP8_E4M3;
            boolean token = spec.granularity() == Granularity.TOKEN;
            String mode = fp8 ? (token ? "fp8_e4m3_scale_perToken" : "fp8_e4m3_scale")
                    : token ? "pertokenmax" : spec.symmetric() ? "maxsym" : "minmax";
            Quantizer q = QuantizerModes.create(mode, spec);
            Float scale = e.getValue().scale();
            if (scale != null) {
                // The modes' scale is amax / 448 (FP8) and clip / (2^(b−1) − 1) (symmetric INT).
                float range = scale * (fp8 ? spec.type().fp8Format().orElseThrow().max() : (1 << (spec.bits() - 1)) - 1);
                q.loadState(Map.of(fp8 ? "amax" : "clip_val", new float[] {range}));
            }
            model.replace(e.getKey(), new InputQuantizedLinear(model.linear(e.getKey()), q));
        }
    }

    /** A stored checkpoint, or the part of it under a prefix, as a format reads it; remembers which tensors it read. */
    private static final class Source implements CheckpointSource {
        private final String location;
        private final Map<String, Object> qc;
        private final SafetensorsModel checkpoint;
        private final Set<String> names;
        final Set<String> read = new HashSet<>();

        Source(String location, Map<String, Object> qc, SafetensorsModel checkpoint, String prefix) {
            this.location = location;
            this.qc = qc;
            this.checkpoint = checkpoint;
            this.names = prefix.isEmpty() ? checkpoint.names()
                    : checkpoint.names().stream().filter(n -> n.startsWith(prefix)).collect(java.util.stream.Collectors.toUnmodifiableSet());
        }

        @Override
        public String location() {
            return location;
        }

        @Override
        public Map<String, Object> quantizationConfig() {
            return qc;
        }

        @Override
        public Set<String> names() {
            return names;
        }

        @Override
        public StoredTensor tensor(String name) {
            if (!names.contains(name)) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, checkpoint.dir() + ": tensor '" + name + "' is missing");
            }
            TensorInfo info = checkpoint.info(name);
            byte[] raw = checkpoint.file(name).bytes(name).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            // copied out: the mapped pages need not stay resident (a streamed 8B eval grew by the
            // whole checkpoint, 4.5 GB, block by block)
            checkpoint.file(name).release(name);
            read.add(name);
            return new StoredTensor(info.dtype().name(), info.shape(), ByteBuffer.wrap(raw));
        }
    }
}
