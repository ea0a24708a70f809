package org.fmsmo.plugin.ct;

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
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantType;

/**
 * The GPTQ v1 checkpoint of AutoGPTQ / GPTQModel, per quantized linear {@code L}:
 * {@code L.qweight} I32 [in/(32/b), out] (codes packed along the input dimension, low bits
 * first; symmetric codes stored with the offset 2^(b−1)), {@code L.qzeros} I32
 * [groups, out/(32/b)] holding zero − 1 (v1's convention), {@code L.scales} F16 [groups, out],
 * {@code L.g_idx} I32 [in]; plus {@code quantize_config.json} and the same keys in
 * {@code config.json}'s {@code quantization_config}. One bit width, group size and symmetry for
 * the whole model; 2, 4 or 8 bits. Scales must be exact in F16 (the {@code gptq} method keeps
 * them so), so that a reader gets back exactly the weights the model computed with.
 */
public final class GptqFormat implements CheckpointFormat {

    @Override
    public boolean canWrite(QuantizableModel model) {
        try {
            check(FrozenLayers.of(model));
            return true;
        } catch (FmsmoException e) {
            return false;
        }
    }

    @Override
    public void checkPlan(QuantizableModel model, QuantPlan plan) {
        check(FrozenLayers.planned(model, plan));
        if (!plan.quantizedBmms().isEmpty()) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "gptq format: attention matmul " + plan.quantizedBmms().getFirst().name()
                    + " is quantized (QBmm or kv_cache_scheme); GPTQ v1 holds weights only; use --format compressed-tensors for an FP8 KV cache");
        }
    }

    private static FrozenLayers.Layer check(List<FrozenLayers.Layer> layers) {
        if (layers.isEmpty()) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "no layer is quantized (frozen); nothing to write in gptq format");
        }
        FrozenLayers.Layer first = layers.getFirst();
        for (FrozenLayers.Layer l : layers) {
            String why = null;
            if (l.spec().type() != QuantType.INT || l.spec().granularity() == Granularity.TENSOR || l.spec().granularity() == Granularity.TOKEN) {
                why = "INT weights per channel or group";
            } else if (l.spec().bits() != 2 && l.spec().bits() != 4 && l.spec().bits() != 8) {
                why = "2, 4 or 8 bits (3-bit GPTQ packing spans words and is not written)";
            } else if (l.input() != null) {
                why = "weight-only layers (activations in float)";
            } else if (!l.spec().equals(first.spec())) {
                why = "the same spec as " + first.name() + " (" + first.spec() + "): one quantize_config per model";
            } else if (l.groupMismatch() != null) {
                why = l.groupMismatch();
            } else if (l.in() % Packing.perWord(l.spec().bits()) != 0 || l.out() % Packing.perWord(l.spec().bits()) != 0) {
                why = "in and out features divisible by " + Packing.perWord(l.spec().bits()) + " to pack " + l.spec().bits() + "-bit codes";
            } else if (l.scale() != null) { // planned layers have no scales yet
                for (float s : l.scale()) {
                    if (Float.float16ToFloat(Float.floatToFloat16(s)) != s) {
                        why = "scales exact in F16 (found " + s + "); set scale_dtype=float16 (quantize --format gptq does; gptq always does)";
                        break;
                    }
                }
            }
            if (why != null) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "gptq format: layer " + l.name() + " has weights " + l.spec()
                        + (l.input() == null ? "" : " and activations " + l.input()) + "; expected " + why);
            }
        }
        return first;
    }

    @Override
    public void write(QuantizableModel model, CheckpointSink sink) {
        writeLayers(model, sink);
        finish(List.of(), sink);
    }

    @Override
    public boolean streams() {
        return true;
    }

    // Over the parts written so far: the first layer (whose spec every other must have) and whether any used act-order.
    private FrozenLayers.Layer first;
    private boolean actOrder;

    @Override
    public void writeLayers(QuantizableModel part, CheckpointSink sink) {
        List<FrozenLayers.Layer> layers = FrozenLayers.of(part);
        if (layers.isEmpty()) {
            return;
        }
        List<FrozenLayers.Layer> checked = new java.util.ArrayList<>(layers);
        if (first != null) {
            checked.addFirst(first);
        }
        FrozenLayers.Layer head = check(checked);
        if (first == null) {
            first = head.withoutData();
        }
        int bits = first.spec().bits();
        for (FrozenLayers.Layer l : layers) {
            int groups = l.groups();
            int groupSize = l.spec().granularity() == Granularity.GROUP ? l.spec().groupSize() : l.in();
            int offset = 1 << (bits - 1);
            int[] codesT = new int[l.in() * l.out()];
            for (int r = 0; r < l.out(); r++) {
                for (int c = 0; c < l.in(); c++) {
                    int q = l.codes()[r * l.in() + c];
                    codesT[c * l.out() + r] = l.spec().symmetric() ? q + offset : q;
                }
            }
            int[] zerosMinusOne = new int[groups * l.out()];
            float[] scalesT = new float[groups * l.out()];
            for (int g = 0; g < groups; g++) {
                for (int r = 0; r < l.out(); r++) {
                    int z = l.zero() == null ? offset : l.zero()[r * groups + g];
                    zerosMinusOne[g * l.out() + r] = z - 1;
                    scalesT[g * l.out() + r] = l.scale()[r * groups + g];
                }
            }
            int[] gIdx = l.groupIndex();
            if (gIdx == null) {
                gIdx = new int[l.in()];
                for (int c = 0; c < l.in(); c++) {
                    gIdx[c] = c / groupSize;
                }
            } else {
                actOrder = true;
            }
            int per = Packing.perWord(bits);
            Map<String, StoredTensor> t = new LinkedHashMap<>();
            t.put(l.name() + ".qweight", StoredTensor.ofInts(new long[] {l.in() / per, l.out()}, Packing.packColumns(codesT, l.in(), l.out(), bits)));
            // v1 stores zero − 1; −1 (a zero point of 0) wraps to all ones in its bit field, which the mask keeps.
            t.put(l.name() + ".qzeros", StoredTensor.ofInts(new long[] {groups, l.out() / per}, Packing.packRows(zerosMinusOne, groups, l.out(), bits)));
            t.put(l.name() + ".scales", StoredTensor.ofHalfs(new long[] {groups, l.out()}, scalesT));
            t.put(l.name() + ".g_idx", StoredTensor.ofInts(new long[] {l.in()}, gIdx));
            sink.replace(l.name(), t);
        }
    }

    @Override
    public Map<String, Object> streamState() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("first", first == null ? null : FrozenLayers.describe(first));
        s.put("act_order", actOrder);
        return s;
    }

    @Override
    public void restoreStreamState(Map<String, Object> state) {
        if (!(state.get("act_order") instanceof Boolean a)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "saved gptq write state: expected act_order, found " + state.keySet());
        }
        first = state.get("first") == null ? null : FrozenLayers.described(state.get("first"));
        actOrder = a;
    }

    @Override
    public void finish(List<String> otherLinears, CheckpointSink sink) {
        if (first == null) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "no layer is quantized (frozen); nothing to write in gptq format");
        }
        int bits = first.spec().bits();
        Map<String, Object> qc = new LinkedHashMap<>();
        qc.put("bits", bits);
        qc.put("group_size", first.spec().granularity() == Granularity.GROUP ? first.spec().groupSize() : -1);
        qc.put("desc_act", actOrder);
        qc.put("sym", first.spec().symmetric());
        qc.put("true_sequential", true);
        qc.put("static_groups", false);
        qc.put("damp_percent", 0.01);
        qc.put("checkpoint_format", "gptq");
        qc.put("quant_method", "gptq");
        qc.put("modules_in_block_to_quantize", null);
        sink.jsonFile("quantize_config.json", qc);
        sink.quantizationConfig(qc);
    }

    @Override
    public Map<String, float[]> read(CheckpointSource source) {
        Map<String, Object> qc = source.quantizationConfig();
        if (!(qc.get("bits") instanceof Number b) || !List.of(2, 4, 8).contains(b.intValue())) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, source.location() + ": gptq quantization_config.bits is " + qc.get("bits")
                    + "; expected 2, 4 or 8");
        }
        if (qc.containsKey("checkpoint_format") && !"gptq".equals(qc.get("checkpoint_format"))) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, source.location() + ": checkpoint_format '" + qc.get("checkpoint_format")
                    + "' is not supported; expected gptq (v1)");
        }
        int bits = b.intValue();
        Map<String, float[]> out = new LinkedHashMap<>();
        for (String name : source.names()) {
            if (!name.endsWith(".qweight")) {
                continue;
            }
            String layer = name.substring(0, name.length() - ".qweight".length());
            long[] qShape = source.tensor(name).shape();
            long[] sShape = source.tensor(layer + ".scales").shape();
            if (qShape.length != 2 || sShape.length != 2) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".qweight and .scales must be 2-D; found "
                        + java.util.Arrays.toString(qShape) + " and " + java.util.Arrays.toString(sShape));
            }
            float[] scales = FrozenLayers.checkScales(source.tensor(layer + ".scales").toFloats(), source, layer + ".scales");
            int in = Math.toIntExact(qShape[0] * Packing.perWord(bits));
            int outF = Math.toIntExact(qShape[1]);
            int groups = Math.toIntExact(sShape[0]);
            if (sShape[1] != outF) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".scales has shape [" + sShape[0] + ", "
                        + sShape[1] + "]; expected [groups, " + outF + "]");
            }
            int[] q = Packing.unpackColumns(source.tensor(name).toInts(), in, outF, bits, source.location() + ": " + name);
            int[] z = Packing.unpackRows(source.tensor(layer + ".qzeros").toInts(), groups, outF, bits, source.location() + ": " + layer + ".qzeros");
            int[] gIdx = source.tensor(layer + ".g_idx").toInts();
            if (gIdx.length != in) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".g_idx has " + gIdx.length + " values; expected " + in);
            }
            float[] w = new float[outF * in];
            int mask = (1 << bits) - 1;
            for (int c = 0; c < in; c++) {
                int g = gIdx[c];
                if (g < 0 || g >= groups) {
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + layer + ".g_idx[" + c + "] = " + g
                            + " is outside [0, " + groups + ")");
                }
                for (int r = 0; r < outF; r++) {
                    int zero = (z[g * outF + r] + 1) & mask;
                    w[r * in + c] = (float) (q[c * outF + r] - zero) * scales[g * outF + r];
                }
            }
            out.put(layer, w);
        }
        return out;
    }

    /** {@code gptq}. */
    public static final class Provider implements CheckpointFormatProvider {
        @Override
        public String name() {
            return "gptq";
        }

        @Override
        public String description() {
            return "GPTQ v1 (AutoGPTQ, GPTQModel, vLLM): qweight/qzeros/scales/g_idx, 2/4/8 bits";
        }

        @Override
        public CheckpointFormat create() {
            return new GptqFormat();
        }
    }
}
