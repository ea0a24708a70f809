package org.fmsmo.plugin.ct;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.format.CheckpointSource;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.RangeSource;

/** A model's frozen layers as plain arrays, the form the writers lay out. */
final class FrozenLayers {

    /**
     * One frozen linear layer.
     *
     * @param codes      {@code [out, in]} (null, as scale, for a layer only planned): signed for symmetric INT, unsigned for asymmetric INT, raw bytes for FP8
     * @param scale      {@code [out, groups]} (channel: groups = 1; tensor: one value)
     * @param zero       {@code [out, groups]}, null when symmetric
     * @param groupIndex null unless act-order
     * @param input      the input quantizer's spec, null for weight-only
     * @param inputScale the static input scale, null unless static
     */
    record Layer(String name, QuantSpec spec, int out, int in, int[] codes, float[] scale, int[] zero, int[] groupIndex,
                 QuantSpec input, Float inputScale) {
        /** The same description without codes, scales and zero points (kept for the config, not the data). */
        Layer withoutData() {
            return new Layer(name, spec, out, in, null, null, null, groupIndex == null ? null : new int[0], input, inputScale);
        }

        /**
         * Null when the input features split into whole groups, else what is expected. Serving
         * engines (vLLM's GPTQ, Marlin and compressed-tensors kernels) take {@code in / group_size}
         * groups per row and refuse a remainder, so a ragged last group, or a group wider than the
         * row, would write a checkpoint no engine loads.
         */
        String groupMismatch() {
            if (spec.granularity() != org.fmsmo.api.quant.Granularity.GROUP || in % spec.groupSize() == 0) {
                return null;
            }
            return "a group size dividing the " + in + " input features (found group size " + spec.groupSize()
                    + "); choose a divisor of every quantized layer's input features, per-channel scales (--group-size -1), or leave the layer in float (--ignore)";
        }

        int groups() {
            return scale.length / (spec.granularity() == org.fmsmo.api.quant.Granularity.TENSOR ? 1 : out) ;
        }
    }

    private FrozenLayers() {
    }

    /**
     * The scales read from {@code tensor} of a checkpoint, refused unless every one is finite and
     * not negative: a NaN or infinite scale (a corrupt or hand-edited file) would otherwise turn
     * a whole layer's weights into NaN and the model's output with it, far from where it started.
     */
    static float[] checkScales(float[] scale, CheckpointSource source, String tensor) {
        for (int i = 0; i < scale.length; i++) {
            if (!(scale[i] >= 0) || Float.isInfinite(scale[i])) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, source.location() + ": " + tensor + "[" + i + "] is " + scale[i]
                        + "; expected finite scales ≥ 0");
            }
        }
        return scale;
    }

    /** The frozen layers in forward order; the other linear layers are left out. */
    static List<Layer> of(QuantizableModel model) {
        List<Layer> out = new ArrayList<>();
        for (LinearLayer l : model.linearLayers()) {
            if (l instanceof LayerWrapper w && w.isFrozen()) {
                out.add(layer(w, model.manager()));
            }
        }
        return out;
    }

    /** Names of the linear layers that are not frozen (written as float). */
    static List<String> floatLayers(QuantizableModel model) {
        List<String> out = new ArrayList<>();
        for (LinearLayer l : model.linearLayers()) {
            if (!(l instanceof LayerWrapper w && w.isFrozen())) {
                out.add(l.name());
            }
        }
        return out;
    }

    private static Layer layer(LayerWrapper w, NDManager manager) {
        QuantizedTensor t = w.frozenWeight();
        int out = Math.toIntExact(t.shape().get(0));
        int in = Math.toIntExact(t.shape().get(1));
        int[] codes;
        if (t.codes().getDataType() == DataType.INT8) {
            byte[] b = t.codes().toByteArray();
            codes = new int[b.length];
            for (int i = 0; i < b.length; i++) {
                codes[i] = b[i];
            }
        } else {
            byte[] b = t.codes().toByteArray();
            codes = new int[b.length];
            for (int i = 0; i < b.length; i++) {
                codes[i] = b[i] & 0xff;
            }
        }
        float[] scale = t.scale().toFloatArray();
        int[] zero = t.zeroPoint().map(NDArray::toIntArray).orElse(null);
        int[] gIdx = t.groupIndex().map(NDArray::toIntArray).orElse(null);
        QuantSpec input = w.inputQuantizer().map(Quantizer::spec).orElse(null);
        if (input != null && input.rangeSource() == RangeSource.DYNAMIC && !w.inputQuantizer().get().state().isEmpty()) {
            // compressed-tensors' dynamic activations are plain per-token scales; a mode that keeps state (llm_int8's outlier
            // threshold) computes something else, which a reader of this format would not reproduce
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "compressed-tensors: layer " + w.name() + "'s input quantizer '"
                    + w.inputQuantizer().get().mode() + "' keeps " + w.inputQuantizer().get().state().keySet() + " beyond per-token scales,"
                    + " which the format cannot express; write --format fms");
        }
        Float inputScale = null;
        // A calibrated quantizer keeps its range as state; without one each tensor brings its own (dynamic per tensor).
        if (input != null && input.rangeSource() != RangeSource.DYNAMIC && !w.inputQuantizer().get().state().isEmpty()) {
            inputScale = staticScale(w.name(), w.inputQuantizer().get(), manager);
        }
        return new Layer(w.name(), t.spec(), out, in, codes, scale, zero, gIdx, input, inputScale);
    }

    /** The layers {@code plan} will quantize, as they will look once frozen, without codes or scales yet. */
    static List<Layer> planned(QuantizableModel model, QuantPlan plan) {
        List<Layer> out = new ArrayList<>();
        for (LayerDecision d : plan.quantized()) {
            LinearLayer l = model.linear(d.name());
            out.add(new Layer(d.name(), d.weightSpec(), Math.toIntExact(l.outFeatures()), Math.toIntExact(l.inFeatures()), null, null, null, null,
                    d.inputSpec(), null));
        }
        return out;
    }

    /** A data-free layer ({@link Layer#withoutData}) as JSON values, for a streamed write's saved state. */
    static Map<String, Object> describe(Layer l) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("name", l.name());
        d.put("spec", l.spec().toString());
        d.put("out", l.out());
        d.put("in", l.in());
        d.put("act_order", l.groupIndex() != null);
        d.put("input", l.input() == null ? null : l.input().toString());
        d.put("input_scale", l.inputScale());
        return d;
    }

    /** Reads back {@link #describe}. */
    static Layer described(Object value) {
        if (!(value instanceof Map<?, ?> d) || !(d.get("name") instanceof String name) || !(d.get("spec") instanceof String spec)
                || !(d.get("out") instanceof Number out) || !(d.get("in") instanceof Number in) || !(d.get("act_order") instanceof Boolean actOrder)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "saved streamed-write state: expected a layer description, found " + value);
        }
        QuantSpec input = d.get("input") instanceof String s ? QuantSpec.parse(s) : null;
        Float inputScale = d.get("input_scale") instanceof Number n ? n.floatValue() : null;
        return new Layer(name, QuantSpec.parse(spec), out.intValue(), in.intValue(), null, null, null, actOrder ? new int[0] : null, input, inputScale);
    }

    /** The calibrated scale of a static input quantizer: the scale it gives any tensor. */
    private static float staticScale(String layer, Quantizer q, NDManager manager) {
        if (!q.spec().symmetric()) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "layer " + layer + ": asymmetric static input " + q.spec()
                    + " has a zero point these formats do not carry; use a symmetric activation mode");
        }
        try (NDManager m = manager.newSubManager()) {
            QuantizedTensor probe = q.quantize(m.zeros(new Shape(1, 1)));
            return probe.scale().toFloatArray()[0];
        }
    }
}
