package org.fmsmo.plugin.rtn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.StageQuantizer;

/**
 * Round-to-nearest: each planned layer's weight is quantized once by its quantizer, with no data
 * and no error correction, and the layer is frozen. Activations, when the plan quantizes them,
 * get their quantizer too (dynamic per-token specs need no calibration).
 *
 * <p>Config keys: {@code qw_mode} and {@code qa_mode} pick quantizer modes (default: the host's
 * default for each spec); {@code scale_dtype} {@code float16} rounds each INT weight scale to the
 * nearest F16 value and rounds the weights again on that scale, so a checkpoint that stores F16
 * scales (GPTQ v1) holds exactly the computed model.
 */
final class RtnMethod implements QuantMethod {

    @Override
    public boolean perBlock() {
        return true; // each layer from its own block's inputs
    }

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        List<LayerDecision> todo = context.plan().quantized();
        ProgressListener progress = context.progress();
        List<QuantReport.LayerResult> results = new ArrayList<>();
        Layers rtn = new Layers(context);
        progress.begin("rtn", todo.size(), "layers");
        try {
            for (LayerDecision d : todo) {
                results.add(rtn.quantize(d));
            }
        } finally {
            progress.end();
        }
        return new QuantReport("rtn", results, (System.nanoTime() - start) / 1e9);
    }

    /** Round-to-nearest needs no data: a stage is its layers one by one (AWQ's {@code awq} finishes with it). */
    @Override
    public Optional<StageQuantizer> stageQuantizer(QuantContext context) {
        Layers rtn = new Layers(context);
        return Optional.of((layers, inputs) -> layers.stream().map(name -> rtn.quantize(context.plan().quantizedDecision(name, "rtn"))).toList());
    }

    /** Wraps and freezes one planned layer at a time, with the run's modes and scale precision. */
    private static final class Layers {
        private final QuantContext context;
        private final String weightMode;
        private final String inputMode;
        private final boolean halfScales;

        Layers(QuantContext context) {
            this.context = context;
            weightMode = context.config().getString("qw_mode", null);
            inputMode = context.config().getString("qa_mode", null);
            halfScales = context.config().getString("scale_dtype", "float32").equals("float16");
        }

        QuantReport.LayerResult quantize(LayerDecision d) {
            ProgressListener progress = context.progress();
            if (progress.isCancelled()) {
                throw new CancellationException("rtn cancelled before layer " + d.name());
            }
            Quantizer wq = context.quantizer(weightMode, d.weightSpec());
            Quantizer iq = d.inputSpec() == null ? null : context.quantizer(inputMode, d.inputSpec());
            LayerWrapper layer = context.wrap(d.name(), wq, iq);
            if (halfScales && d.weightSpec().type() == QuantType.INT) {
                layer.freeze(onHalfScales(wq.quantize(layer.weight()), layer.weight()));
            } else {
                layer.freeze();
            }
            progress.advance(1);
            return QuantReport.frozenLayerResult(layer);
        }
    }

    /** {@code w} rounded again on the scales of {@code t} rounded to F16 (zero points unchanged); frees t's codes and scale. */
    static QuantizedTensor onHalfScales(QuantizedTensor t, NDArray w) {
        QuantSpec spec = t.spec();
        NDManager m = t.scale().getManager();
        float[] s = t.scale().toFloatArray();
        for (int i = 0; i < s.length; i++) {
            float h = Float.float16ToFloat(Float.floatToFloat16(s[i]));
            s[i] = h == 0f ? Float.float16ToFloat((short) 1) : h; // the smallest F16 subnormal rather than 0
        }
        NDArray scale = m.create(s, t.scale().getShape());
        t.codes().close();
        t.scale().close();
        Shape shape = w.getShape();
        int bits = spec.bits();
        try (NDManager scope = m.newSubManager()) {
            NDArray q = w.toType(DataType.FLOAT32, false).div(QuantizedTensor.broadcast(scale, spec, shape)).round();
            q.attach(scope);
            if (t.zeroPoint().isPresent()) {
                q = q.add(QuantizedTensor.broadcast(t.zeroPoint().get().toType(DataType.FLOAT32, false), spec, shape));
            }
            float lo = spec.symmetric() ? -(1 << (bits - 1)) : 0;
            float hi = spec.symmetric() ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
            NDArray codes = q.clip(lo, hi).toType(spec.symmetric() ? DataType.INT8 : DataType.UINT8, false);
            codes.attach(m);
            return new QuantizedTensor(spec, codes, scale, t.zeroPoint().orElse(null), t.groupIndex().orElse(null));
        }
    }
}
