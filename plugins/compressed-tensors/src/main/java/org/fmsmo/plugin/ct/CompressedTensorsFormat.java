package org.fmsmo.plugin.ct;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
import org.fmsmo.api.quant.KvCacheScales;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;

/**
 * compressed-tensors as vLLM and Hugging Face read it. One checkpoint uses one of three formats:
 * <ul>
 *   <li>{@code float-quantized} (FP8 e4m3): {@code L.weight} F8_E4M3, {@code L.weight_scale}
 *       [out, 1] or [1], {@code L.input_scale} [1] for static activations;</li>
 *   <li>{@code int-quantized} (symmetric INT8 W8A8): {@code L.weight} I8, {@code L.weight_scale} [out, 1];</li>
 *   <li>{@code pack-quantized} (weight-only INT2/4/8): {@code L.weight_packed} I32
 *       [out, in/(32/b)] holding code + 2^(b−1) (compressed-tensors keeps codes in the signed
 *       range, asymmetric ones too), {@code L.weight_shape}, {@code L.weight_scale}
 *       [out, groups], {@code L.weight_zero_point} packed along the output rows when asymmetric,
 *       {@code L.weight_g_idx} with act-order.</li>
 * </ul>
 * Layers sharing a spec form one config group; the unquantized linear layers are listed in {@code ignore}.
 */
public final class CompressedTensorsFormat implements CheckpointFormat {

    static final String VERSION = "0.10.2";

    @Override
    public boolean canWrite(QuantizableModel model) {
        try {
            formatOf(FrozenLayers.of(model));
            return true;
        } catch (FmsmoException e) {
            return false;
        }
    }

    @Override
    public void checkPlan(QuantizableModel model, QuantPlan plan) {
        formatOf(FrozenLayers.planned(model, plan));
        for (org.fmsmo.api.quant.LayerDecision d : plan.quantizedBmms()) {
            // A quantized query or probability operand has no compressed-tensors form; the KV cache does.
            if (d.inputSpec() != null) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "compressed-tensors: attention matmul " + d.name()
                        + " has both operands quantized (QBmm); expected only the KV cache (kv_cache_scheme=fp8) or none");
            }
            checkKvSpec(d.weightSpec(), d.name());
        }
    }

    /** The one compressed-tensors format all frozen layers fit; an error naming the first that does not. */
    private static String formatOf(List<FrozenLayers.Layer> layers) {
        if (layers.isEmpty()) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "no layer is quantized (frozen); nothing to write in compressed-tensors");
        }
        String format = null;
        for (FrozenLayers.Layer l : layers) {
            String f = layerFormat(l);
            if (format != null && !format.equals(f)) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "compressed-tensors holds one format per checkpoint; layer " + l.name()
                        + " needs " + f + " but earlier layers need " + format);
            }
            format = f;
        }
        return format;
    }

    private static String layerFormat(FrozenLayers.Layer l) {
        QuantSpec w = l.spec();
        if (w.type() == QuantType.FP8_E4M3) {
            if (w.granularity() == Granularity.GROUP || l.input() != null && l.input().type() != QuantType.FP8_E4M3) {
                throw unsupported(l, "FP8 weights per tensor or channel with FP8 or float activations");
            }
            return "float-quantized";
        }
        if (w.type() != QuantType.INT) {
            throw unsupported(l, "INT or FP8 e4m3 weights");
        }
        if (l.input() != null) {
            if (w.bits() != 8 || !w.symmetric() || w.granularity() == Granularity.GROUP || l.input().type() != QuantType.INT
                    || l.input().bits() != 8) {
                throw unsupported(l, "symmetric INT8 weights per tensor or channel with INT8 activations (W8A8), or weight-only INT");
            }
            return "int-quantized";
        }
        if (w.bits() != 2 && w.bits() != 4 && w.bits() != 8) {
            throw unsupported(l, "2, 4 or 8 weight bits to pack into int32 words");
        }
        if (w.granularity() == Granularity.TENSOR && !w.symmetric()) {
            throw unsupported(l, "asymmetric packed weights per channel or group");
        }
        if (l.groupMismatch() != null) {
            throw unsupported(l, l.groupMismatch());
        }
        return "pack-quantized";
    }

    private static FmsmoException unsupported(FrozenLayers.Layer l, String expected) {
        return new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "compressed-tensors: layer " + l.name() + " has weights " + l.spec()
                + (l.input() == null ? " and float activations" : " and activations " + l.input()) + "; expected " + expected);
    }

    @Override
    public void write(QuantizableModel model, CheckpointSink sink) {
        writeLayers(model, sink); // the whole model as one part: every layer is checked before any is described
        finish(List.of(), sink);
    }

    @Override
    public boolean streams() {
        return true;
    }

    // What the quantization_config needs, gathered over the parts written so far.
    private String format;
    private final Map<String, List<String>> groups = new LinkedHashMap<>();
    private final Map<String, FrozenLayers.Layer> example = new LinkedHashMap<>();
    private final List<String> floatLayers = new ArrayList<>();
    /** The KV cache's spec (text form) once a part had one, else null. */
    private String kvCache;

    @Override
    public void writeLayers(QuantizableModel part, CheckpointSink sink) {
        List<FrozenLayers.Layer> layers = FrozenLayers.of(part);
        if (!layers.isEmpty()) {
            String f = formatOf(layers);
            if (format != null && !format.equals(f)) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "compressed-tensors holds one format per checkpoint; layer "
                        + layers.getFirst().name() + " needs " + f + " but earlier layers need " + format);
            }
            format = f;
        }
        for (FrozenLayers.Layer l : layers) {
            String key = l.spec() + "|" + l.input() + "|" + (l.inputScale() != null) + "|" + (l.groupIndex() != null);
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(l.name());
            example.putIfAbsent(key, l.withoutData());
            sink.replace(l.name(), tensors(l, format));
        }
        floatLayers.addAll(FrozenLayers.floatLayers(part));
        for (KvCacheScales c : part.kvCache()) {
            checkKvSpec(c.spec(), c.attention());
            kvCache = c.spec().toString();
            // The names vLLM's compressed-tensors loader reads for an FP8 KV cache.
            sink.add(c.attention() + K_SCALE, StoredTensor.ofFloats(new long[] {1}, new float[] {c.keyScale()}));
            sink.add(c.attention() + V_SCALE, StoredTensor.ofFloats(new long[] {1}, new float[] {c.valueScale()}));
        }
    }

    private static final String K_SCALE = ".k_scale";
    private static final String V_SCALE = ".v_scale";

    /** What vLLM's FP8 KV cache is: e4m3, one static scale per tensor. */
    private static void checkKvSpec(QuantSpec spec, String attention) {
        if (spec.type() != QuantType.FP8_E4M3 || spec.granularity() != Granularity.TENSOR) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "compressed-tensors: the KV cache of " + attention + " is " + spec
                    + "; expected FP8 e4m3 with one scale per tensor (kv_cache_scheme=fp8)");
        }
    }

    @Override
    public Map<String, Object> streamState() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("format", format);
        s.put("groups", new LinkedHashMap<>(groups));
        Map<String, Object> examples = new LinkedHashMap<>();
        example.forEach((k, l) -> examples.put(k, FrozenLayers.describe(l)));
        s.put("examples", examples);
        s.put("float_layers", new ArrayList<>(floatLayers));
        s.put("kv_cache", kvCache);
        return s;
    }

    @Override
    public void restoreStreamState(Map<String, Object> state) {
        if (!(state.get("groups") instanceof Map<?, ?> g) || !(state.get("examples") instanceof Map<?, ?> e)
                || !(state.get("float_layers") instanceof List<?> f)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "saved compressed-tensors write state: expected groups, examples and float_layers, found "
                    + state.keySet());
        }
        format = state.get("format") instanceof String s ? s : null;
        g.forEach((k, names) -> groups.put(k.toString(), ((List<?>) names).stream().map(Object::toString).collect(
                java.util.stream.Collectors.toCollection(ArrayList::new))));
        e.forEach((k, l) -> example.put(k.toString(), FrozenLayers.described(l)));
        f.forEach(n -> floatLayers.add(n.toString()));
        kvCache = state.get("kv_cache") instanceof String k ? k : null;
    }

    @Override
    public void finish(List<String> otherLinears, CheckpointSink sink) {
        if (format == null) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "no layer is quantized (frozen); nothing to write in compressed-tensors");
        }
        Map<String, Object> configGroups = new LinkedHashMap<>();
        int i = 0;
        for (Map.Entry<String, List<String>> g : groups.entrySet()) {
            FrozenLayers.Layer l = example.get(g.getKey());
            Map<String, Object> group = new LinkedHashMap<>();
            group.put("targets", groups.size() == 1 ? List.of("Linear") : g.getValue());
            group.put("weights", args(l.spec(), l.groupIndex() != null));
            group.put("input_activations", l.input() == null ? null : activationArgs(l));
            group.put("output_activations", null);
            configGroups.put("group_" + i++, group);
        }
        List<String> ignore = new ArrayList<>(floatLayers);
        ignore.addAll(otherLinears);
        Map<String, Object> qc = new LinkedHashMap<>();
        qc.put("quant_method", "compressed-tensors");
        qc.put("format", format);
        qc.put("config_groups", configGroups);
        qc.put("ignore", ignore);
        qc.put("quantization_status", "compressed");
        Map<String, Object> kv = null;
        if (kvCache != null) {
            kv = args(QuantSpec.parse(kvCache), false);
            kv.remove("actorder");
        }
        qc.put("kv_cache_scheme", kv);
        qc.put("version", VERSION);
        sink.quantizationConfig(qc);
    }

    /** The input's QuantizationArgs: dynamic unless a static scale was calibrated. */
    private static Map<String, Object> activationArgs(FrozenLayers.Layer l) {
        Map<String, Object> a = args(l.input(), false);
        if (l.inputScale() == null) {
            a.put("dynamic", true);
            a.put("observer", null);
        }
        return a;
    }

    /** compressed-tensors' QuantizationArgs for a spec. */
    static Map<String, Object> args(QuantSpec s, boolean actOrder) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("num_bits", s.bits());
        a.put("type", s.type() == QuantType.INT ? "int" : "float");
        a.put("strategy", switch (s.granularity()) {
            case TENSOR -> "tensor";
            case CHANNEL -> "channel";
            case GROUP -> "group";
            case TOKEN -> "token";
        });
        a.put("group_size", s.granularity() == Granularity.GROUP ? s.groupSize() : null);
        a.put("symmetric", s.symmetric());
        a.put("dynamic", s.granularity() == Granularity.TOKEN);
        a.put("observer", s.granularity() == Granularity.TOKEN ? null : "minmax");
        a.put("actorder", actOrder ? "group" : null);
        return a;
    }

    private static Map<String, StoredTensor> tensors(FrozenLayers.Layer l, String format) {
        Map<String, StoredTensor> t = new LinkedHashMap<>();
        String n = l.name();
        long[] scaleShape = l.spec().granularity() == Granularity.TENSOR ? new long[] {1} : new long[] {l.out(), l.groups()};
        switch (format) {
            case "float-quantized", "int-quantized" -> {
                byte[] b = new byte[l.codes().length];
                for (int i = 0; i < b.length; i++) {
                    b[i] = (byte) l.codes()[i];
                }
                t.put(n + ".weight", StoredTensor.ofBytes(format.equals("float-quantized") ? "F8_E4M3" : "I8", new long[] {l.out(), l.in()}, b));
                t.put(n + ".weight_scale", StoredTensor.ofFloats(scaleShape, l.scale()));
            }
            default -> {
                int bits = l.spec().bits();
                int offset = 1 << (bits - 1);
                int[] unsigned = new int[l.codes().length];
                for (int i = 0; i < unsigned.length; i++) {
                    unsigned[i] = l.spec().symmetric() ? l.codes()[i] + offset : l.codes()[i];
                }
                int per = Packing.perWord(bits);
                t.put(n + ".weight_packed", StoredTensor.ofInts(new long[] {l.out(), (l.in() + per - 1) / per},
                        Packing.packRows(unsigned, l.out(), l.in(), bits)));
                t.put(n + ".weight_shape", StoredTensor.ofInts(new long[] {2}, new int[] {l.out(), l.in()}));
                t.put(n + ".weight_scale", StoredTensor.ofFloats(scaleShape, l.scale()));
                if (l.zero() != null) {
                    int groups = l.groups();
                    t.put(n + ".weight_zero_point", StoredTensor.ofInts(new long[] {(l.out() + per - 1) / per, groups},
                            Packing.packColumns(l.zero(), l.out(), groups, bits)));
                }
                if (l.groupIndex() != null) {
                    t.put(n + ".weight_g_idx", StoredTensor.ofInts(new long[] {l.in()}, l.groupIndex()));
                }
            }
        }
        if (l.inputScale() != null) {
            t.put(n + ".input_scale", StoredTensor.ofFloats(new long[] {1}, new float[] {l.inputScale()}));
        }
        return t;
    }

    @Override
    public Map<String, float[]> read(CheckpointSource source) {
        Map<String, Object> qc = source.quantizationConfig();
        Object format = qc.get("format");
        // (List.of(...).contains(null) throws: a missing "format" would surface as a NullPointerException; found by the conformance kit)
        if (!(format instanceof String f && List.of("float-quantized", "int-quantized", "pack-quantized").contains(f))) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, source.location() + ": compressed-tensors format '" + format
                    + "' is not supported; expected float-quantized, int-quantized or pack-quantized");
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        for (String name : source.names()) {
            if (name.endsWith(".weight_scale")) {
                String layer = name.substring(0, name.length() - ".weight_scale".length());
                out.put(layer, format.equals("pack-quantized") ? readPacked(source, layer, qc) : readUnpacked(source, layer));
            }
        }
        return out;
    }

    /**
     * {@code kv_cache_scheme} (FP8 e4m3 per tensor, static) with each attention module's
     * {@code k_scale} and {@code v_scale}.
     */
    @Override
    public Map<String, KvCacheScales> kvCache(CheckpointSource source) {
        if (!(source.quantizationConfig().get("kv_cache_scheme") instanceof Map<?, ?> kv)) {
            return Map.of();
        }
        String where = source.location() + ": quantization_config.kv_cache_scheme";
        QuantSpec spec = activationSpec(kv, where);
        if (spec.type() != QuantType.FP8_E4M3 || spec.granularity() != Granularity.TENSOR || Boolean.TRUE.equals(kv.get("dynamic"))) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": expected FP8 (e4m3) with one static scale per tensor, found " + kv);
        }
        Map<String, KvCacheScales> out = new LinkedHashMap<>();
        for (String name : new java.util.TreeSet<>(source.names())) {
            if (name.endsWith(K_SCALE)) {
                String attention = name.substring(0, name.length() - K_SCALE.length());
                out.put(attention, new KvCacheScales(attention, spec, oneScale(source, name), oneScale(source, attention + V_SCALE)));
            }
        }
        // A part holding attention layers (HF names them self_attn, attention or attn) must hold their scales;
        // vLLM would run such a cache with scale 1. Parts without attention (a streamed head) hold none.
        if (out.isEmpty() && source.names().stream().anyMatch(n -> n.endsWith(".weight_scale") && (n.contains("attn") || n.contains("attention")))) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + " is set but no attention module has a k_scale");
        }
        return out;
    }

    private static float oneScale(CheckpointSource source, String name) {
        if (!source.names().contains(name)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": kv_cache_scheme is set but " + name + " is missing");
        }
        float[] v = source.tensor(name).toFloats();
        if (v.length != 1 || !(v[0] > 0) || Float.isInfinite(v[0])) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + name + ": expected one finite value > 0, found "
                    + java.util.Arrays.toString(v));
        }
        return v[0];
    }

    /**
     * The {@code input_activations} of each config group, applied to the layers its
     * {@code targets} name ({@code Linear} = all, {@code re:…} = a regular expression on the
     * layer name, else the exact name): per-token dynamic, or per tensor with the stored
     * {@code L.input_scale} (static) or without (dynamic per tensor). Asymmetric only when
     * dynamic INT: these formats carry no input zero point.
     */
    @Override
    public Map<String, InputQuantization> inputQuantization(CheckpointSource source) {
        Map<String, Object> qc = source.quantizationConfig();
        List<String> layers = new ArrayList<>();
        for (String name : source.names()) {
            if (name.endsWith(".weight_scale")) {
                layers.add(name.substring(0, name.length() - ".weight_scale".length()));
            }
        }
        Map<String, InputQuantization> out = new LinkedHashMap<>();
        if (!(qc.get("config_groups") instanceof Map<?, ?> groups)) {
            return out;
        }
        for (Map.Entry<?, ?> g : groups.entrySet()) {
            if (!(g.getValue() instanceof Map<?, ?> group) || !(group.get("input_activations") instanceof Map<?, ?> a)) {
                continue;
            }
            String where = source.location() + ": quantization_config.config_groups." + g.getKey() + ".input_activations";
            QuantSpec spec = activationSpec(a, where);
            List<?> targets = group.get("targets") instanceof List<?> t ? t : List.of();
            for (String layer : layers) {
                if (targets.stream().anyMatch(t -> matches(String.valueOf(t), layer))) {
                    Float scale = null;
                    if (!Boolean.TRUE.equals(a.get("dynamic"))) {
                        if (!source.names().contains(layer + ".input_scale")) {
                            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + " is static but " + layer + ".input_scale is missing");
                        }
                        float[] v = source.tensor(layer + ".input_scale").toFloats();
                        if (v.length != 1 || !(v[0] > 0) || Float.isInfinite(v[0])) {
                            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer
                                    + ".input_scale: expected one finite value > 0, found " + java.util.Arrays.toString(v));
                        }
                        scale = v[0];
                    }
                    out.put(layer, new InputQuantization(spec, scale));
                }
            }
        }
        return out;
    }

    private static boolean matches(String target, String layer) {
        return target.equals("Linear") || target.equals(layer)
                || target.startsWith("re:") && java.util.regex.Pattern.compile(target.substring(3)).matcher(layer).matches();
    }

    /** An activation spec from compressed-tensors' QuantizationArgs. */
    private static QuantSpec activationSpec(Map<?, ?> a, String where) {
        Object bits = a.get("num_bits");
        Object type = a.get("type");
        Object strategy = a.get("strategy");
        boolean dynamic = Boolean.TRUE.equals(a.get("dynamic"));
        boolean symmetric = !Boolean.FALSE.equals(a.get("symmetric"));
        if (!symmetric && (!dynamic || "float".equals(type))) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": asymmetric activations need a zero point, which is only"
                    + " computed at run time for dynamic INT; expected symmetric: true or dynamic INT");
        }
        String t;
        if ("float".equals(type) && bits instanceof Number n && n.intValue() == 8) {
            t = "fp8_e4m3";
        } else if ("int".equals(type) && bits instanceof Number n && n.intValue() >= 2 && n.intValue() <= 8) {
            t = "int" + n.intValue() + (symmetric ? "-sym" : "-asym");
        } else {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": expected type float with num_bits 8 or type int with 2-8 bits, found type "
                    + type + ", num_bits " + bits);
        }
        if ("token".equals(strategy) && dynamic && symmetric) {
            return QuantSpec.parse(t + "-token");
        }
        if ("tensor".equals(strategy)) {
            return QuantSpec.parse(t + "-tensor-minmax");
        }
        throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": expected strategy token (dynamic) or tensor, found strategy "
                + strategy + ", dynamic " + dynamic);
    }

    private static float[] readUnpacked(CheckpointSource source, String layer) {
        StoredTensor w = source.tensor(layer + ".weight");
        if (!w.dtype().equals("I8") && !w.dtype().equals("F8_E4M3")) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".weight: expected I8 or F8_E4M3, found " + w.dtype());
        }
        long[] shape = w.shape();
        if (shape.length != 2) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".weight has shape "
                    + java.util.Arrays.toString(shape) + "; expected [out, in]");
        }
        float[] values = w.toFloats();
        float[] scale = FrozenLayers.checkScales(source.tensor(layer + ".weight_scale").toFloats(), source, layer + ".weight_scale");
        int out = (int) shape[0];
        int in = (int) shape[1];
        if (scale.length != 1 && scale.length != out) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".weight_scale has " + scale.length
                    + " values; expected 1 (tensor) or " + out + " (channel)");
        }
        for (int r = 0; r < out; r++) {
            float s = scale[scale.length == 1 ? 0 : r];
            for (int c = 0; c < in; c++) {
                values[r * in + c] *= s;
            }
        }
        return values;
    }

    private static float[] readPacked(CheckpointSource source, String layer, Map<String, Object> qc) {
        int[] shape = source.tensor(layer + ".weight_shape").toInts();
        if (shape.length != 2) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".weight_shape has " + shape.length
                    + " values; expected 2 (out, in)");
        }
        int out = shape[0];
        int in = shape[1];
        int bits = weightArg(qc, "num_bits", layer, source);
        String where = source.location() + ": " + layer + ".weight_packed with weight_shape " + java.util.Arrays.toString(shape);
        int[] unsigned = Packing.unpackRows(source.tensor(layer + ".weight_packed").toInts(), out, in, bits, where);
        StoredTensor scaleT = source.tensor(layer + ".weight_scale");
        float[] scale = FrozenLayers.checkScales(scaleT.toFloats(), source, layer + ".weight_scale");
        int groups = scale.length == 1 ? 1 : scale.length / out;
        int groupSize = groups == 1 ? in : weightArg(qc, "group_size", layer, source);
        if (scale.length != 1 && (scale.length % out != 0 || groupSize <= 0 || (long) groups * groupSize < in)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".weight_scale has " + scale.length
                    + " values; expected " + out + " rows of ceil(" + in + " / group_size " + groupSize + ") groups");
        }
        int[] gIdx = source.names().contains(layer + ".weight_g_idx") ? source.tensor(layer + ".weight_g_idx").toInts() : null;
        if (gIdx != null && (gIdx.length != in || java.util.Arrays.stream(gIdx).anyMatch(g -> g < 0 || g >= groups))) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".weight_g_idx: expected " + in
                    + " group numbers in [0, " + groups + ")");
        }
        int[] zero = source.names().contains(layer + ".weight_zero_point")
                ? Packing.unpackColumns(source.tensor(layer + ".weight_zero_point").toInts(), out, groups, bits,
                        source.location() + ": " + layer + ".weight_zero_point") : null;
        int offset = 1 << (bits - 1);
        float[] w = new float[out * in];
        if (gIdx == null) { // contiguous groups (one group of `in` columns per row or tensor): a run of columns per scale
            for (int r = 0; r < out; r++) {
                for (int c0 = 0, g = 0; c0 < in; c0 += groupSize, g++) {
                    int block = scale.length == 1 ? 0 : r * groups + g;
                    int z = zero == null ? offset : zero[block];
                    float s = scale[block];
                    for (int c = c0, end = Math.min(in, c0 + groupSize), i = r * in + c0; c < end; c++, i++) {
                        w[i] = (unsigned[i] - z) * s;
                    }
                }
            }
            return w;
        }
        for (int r = 0; r < out; r++) { // act-order: each column's group from g_idx
            for (int c = 0; c < in; c++) {
                int block = scale.length == 1 ? 0 : r * groups + gIdx[c];
                int z = zero == null ? offset : zero[block];
                w[r * in + c] = (unsigned[r * in + c] - z) * scale[block];
            }
        }
        return w;
    }

    /**
     * A numeric weights argument of the config group whose {@code targets} name {@code layer} (a
     * mixed-precision checkpoint has one group per width), or of the only group when one targets
     * every layer.
     */
    private static int weightArg(Map<String, Object> qc, String key, String layer, CheckpointSource source) {
        List<Map<?, ?>> weights = new ArrayList<>();
        Map<?, ?> chosen = null;
        if (qc.get("config_groups") instanceof Map<?, ?> groups) {
            for (Object g : groups.values()) {
                if (g instanceof Map<?, ?> group && group.get("weights") instanceof Map<?, ?> w) {
                    weights.add(w);
                    List<?> targets = group.get("targets") instanceof List<?> t ? t : List.of();
                    if (chosen == null && targets.stream().anyMatch(t -> matches(String.valueOf(t), layer))) {
                        chosen = w;
                    }
                }
            }
        }
        if (chosen == null && weights.size() == 1) {
            chosen = weights.getFirst();
        }
        if (chosen == null) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": no quantization_config.config_groups entry targets layer " + layer);
        }
        if (!(chosen.get(key) instanceof Number n)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": the config group of " + layer + " has no weights." + key);
        }
        return n.intValue();
    }

    /** {@code compressed-tensors}. */
    public static final class Provider implements CheckpointFormatProvider {
        @Override
        public String name() {
            return "compressed-tensors";
        }

        @Override
        public String description() {
            return "compressed-tensors (vLLM, HF): FP8 float-quantized, INT8 int-quantized, INT2/4/8 pack-quantized weights";
        }

        @Override
        public CheckpointFormat create() {
            return new CompressedTensorsFormat();
        }
    }
}
