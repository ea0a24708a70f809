package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.api.quant.StageQuantizer;

/**
 * GPTQ over a model: the host runs the calibration examples block by block
 * ({@link QuantContext#sequential}), this method builds each stage's Hessian once from the
 * captured inputs (q/k/v share one) and factors it once ({@link Gptq#factor}: the factor depends
 * on H and the dampening only), runs {@link Gptq} on every layer of the stage and freezes it with
 * the resulting codes, so later layers see the quantized ones.
 *
 * <p>Config: the planned weight spec (INT, per channel or group, sym/asym) and
 * {@code damp_percent} (0.01), {@code desc_act} (false), {@code static_groups} (false),
 * {@code gptq_block_size} (128). Activations are left in float unless the plan gives them a
 * dynamic per-token spec.
 */
final class GptqMethod implements QuantMethod {

    @Override
    public boolean perBlock() {
        return true; // each layer from its own block's inputs
    }

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        List<LayerDecision> todo = context.plan().quantized();
        todo.forEach(GptqMethod::check); // every layer before the first is calibrated
        StageQuantizer stage = new Stages(context);
        ProgressListener progress = context.progress();
        List<QuantReport.LayerResult> results = new ArrayList<>();
        progress.begin("gptq", todo.size(), "layers");
        try {
            context.sequential((layers, inputs) -> results.addAll(stage.quantize(layers, inputs)));
        } finally {
            progress.end();
        }
        return new QuantReport("gptq", results, (System.nanoTime() - start) / 1e9);
    }

    @Override
    public Optional<StageQuantizer> stageQuantizer(QuantContext context) {
        return Optional.of(new Stages(context));
    }

    /**
     * GPTQ on one stage: its Hessian is built once from the captured inputs (q/k/v share one) and
     * factored once ({@link Gptq#factor}: the factor depends on H and the dampening only), then
     * every layer of the stage is quantized and frozen with it.
     */
    private static final class Stages implements StageQuantizer {
        private final QuantContext context;
        private final double damp;
        private final boolean descAct;
        private final boolean staticGroups;
        private final int blockSize;

        Stages(QuantContext context) {
            this.context = context;
            QuantConfig cfg = context.config();
            damp = cfg.getDouble("damp_percent", 0.01);
            descAct = cfg.getBoolean("desc_act", false);
            staticGroups = cfg.getBoolean("static_groups", false);
            blockSize = cfg.getInt("gptq_block_size", 128);
        }

        @Override
        public List<QuantReport.LayerResult> quantize(List<String> layers, QuantContext.LayerInputs inputs) {
            Map<String, LayerDecision> decisions = new HashMap<>();
            for (String name : layers) {
                LayerDecision d = context.plan().quantizedDecision(name, "gptq");
                check(d);
                decisions.put(name, d);
            }
            ProgressListener progress = context.progress();
            List<QuantReport.LayerResult> results = new ArrayList<>();
            long t0 = System.nanoTime();
            progress.item(layers.getFirst() + " (capturing inputs)");
            int in = Math.toIntExact(context.model().linear(layers.getFirst()).inFeatures());
            // H stays as the engine's upper-triangle tiles (half of H) for the stage's output
            // errors; the factor, the only full n² array, is made once for all its layers.
            try (Hessian h = new Hessian(in, context.model().manager())) {
                inputs.forEach(h::add);
                long tokens = h.rows();
                Gptq.Factor factor;
                try (NDManager work = context.model().manager().newSubManager()) {
                    factor = Gptq.factor(h, in, options(decisions.get(layers.getFirst()).weightSpec()), work);
                }
                double sharedSeconds = (System.nanoTime() - t0) / 1e9;
                for (String name : layers) {
                    quantizeLayer(context, name, decisions.get(name), h, factor, tokens, options(decisions.get(name).weightSpec()),
                            sharedSeconds / layers.size(), results);
                    progress.advance(1);
                }
            }
            return results;
        }

        private Gptq.Options options(QuantSpec spec) {
            return GptqMethod.options(spec, damp, descAct, staticGroups, blockSize);
        }
    }

    private static Gptq.Options options(QuantSpec spec, double damp, boolean descAct, boolean staticGroups, int blockSize) {
        return new Gptq.Options(spec.bits(), spec.symmetric(), spec.granularity() == Granularity.GROUP ? spec.groupSize() : -1, damp, descAct,
                staticGroups, blockSize, true);
    }

    /** GPTQ on one layer with its stage's factor; wraps and freezes it and adds its result. */
    private static void quantizeLayer(QuantContext context, String name, LayerDecision d, Hessian h, Gptq.Factor factor, long tokens,
                                      Gptq.Options o, double sharedSeconds, List<QuantReport.LayerResult> results) {
        ProgressListener progress = context.progress();
        if (progress.isCancelled()) {
            throw new CancellationException("gptq cancelled before layer " + name);
        }
        progress.item(name);
        long t1 = System.nanoTime();
        QuantSpec spec = d.weightSpec();
        LinearLayer layer = context.model().linear(name);
        int out = Math.toIntExact(layer.outFeatures());
        int in = Math.toIntExact(layer.inFeatures());
        Gptq.Result r;
        // The column loop works on Wᵀ; W itself is garbage as soon as it is transposed. The rows
        // the output error samples are taken before the loop overwrites Wᵀ.
        float[] wt = Gptq.transposed(layer.weight());
        float[] sampled = sampleRows(wt, out, in);
        try (NDManager work = context.model().manager().newSubManager()) {
            r = Gptq.quantizeTransposed(wt, out, in, factor, o, work);
        }
        double outputError = sampledOutputError(sampled, r, h, out, in, context.model().manager());
        Quantizer wq = context.quantizer(gridMode(spec), spec);
        Quantizer iq = d.inputSpec() == null ? null : context.quantizer(d.inputMode(), d.inputSpec());
        LayerWrapper w = context.wrap(name, wq, iq);
        w.freeze(frozen(r, spec, out, in, context.model().manager()));
        QuantReport.LayerResult base = QuantReport.frozenLayerResult(w);
        Map<String, Double> metrics = new HashMap<>(base.metrics());
        metrics.put("output_rel_error", outputError);
        metrics.put("damp_percent", r.damp());
        metrics.put("calibration_tokens", (double) tokens);
        metrics.put("seconds", (System.nanoTime() - t1) / 1e9 + sharedSeconds);
        results.add(new QuantReport.LayerResult(name, spec, metrics));
    }

    private static void check(LayerDecision d) {
        QuantSpec s = d.weightSpec();
        if (s.type() != QuantType.INT || s.granularity() == Granularity.TENSOR || s.granularity() == Granularity.TOKEN) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "gptq quantizes weights to INT2-8 per channel or per group; layer "
                    + d.name() + " has weight spec " + s + " (use fp8 or rtn for other specs)");
        }
        if (d.inputSpec() != null && d.inputSpec().rangeSource() != RangeSource.DYNAMIC) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "gptq leaves activations in float or quantizes them per token at run time; layer "
                    + d.name() + " asks for static " + d.inputSpec() + " (use ptq for static activation ranges)");
        }
    }

    /** The host quantizer mode with GPTQ's grid, so the wrapper's spec and a later re-freeze agree with the codes. */
    static String gridMode(QuantSpec s) {
        String base = s.symmetric() ? "maxfull" : "minmax";
        return base + (s.granularity() == Granularity.GROUP ? "perGp" : "perCh");
    }

    /** Rows the output error is measured on: enough for a stable ratio, few enough that it costs little next to GPTQ itself. */
    static final int ERROR_ROWS = 64;

    /** The row of W that sampled row {@code k} is: evenly spaced, {@code k·out/rows}. */
    private static int sampledRow(int k, int out) {
        return (int) ((long) k * out / Math.min(out, ERROR_ROWS));
    }

    /** The sampled rows of W, {@code [min(out, ERROR_ROWS), in]}, from {@code wt = Wᵀ}. */
    static float[] sampleRows(float[] wt, int out, int in) {
        int rows = Math.min(out, ERROR_ROWS);
        float[] ws = new float[rows * in];
        for (int k = 0; k < rows; k++) {
            int r = sampledRow(k, out);
            for (int c = 0; c < in; c++) {
                ws[k * in + c] = wt[c * out + r];
            }
        }
        return ws;
    }

    /**
     * sqrt(Σ d H dᵀ / Σ w H wᵀ) over the sampled rows d of {@code D = W − Ŵ} (and w of W, given by
     * {@link #sampleRows}): the relative error of the layer's output on the calibration inputs. On all rows this is two
     * {@code out·in²} matmuls — as much as GPTQ's own work at 8B shapes — so it is measured on
     * {@value #ERROR_ROWS} evenly spaced rows (all of them in smaller layers).
     */
    static double sampledOutputError(float[] ws, Gptq.Result q, Hessian h, int out, int in, NDManager owner) {
        int rows = Math.min(out, ERROR_ROWS);
        float[] d = new float[rows * in];
        for (int k = 0; k < rows; k++) {
            int r = sampledRow(k, out);
            for (int c = 0; c < in; c++) {
                d[k * in + c] = ws[k * in + c] - q.value(r, c);
            }
        }
        try (NDManager m = owner.newSubManager()) {
            NDArray dm = EngineArrays.floats(m, d, new Shape(rows, in));
            NDArray wm = EngineArrays.floats(m, ws, new Shape(rows, in));
            // D·H and W·H from H's tiles in the engine: the full H is never built.
            double num = h.times(dm).mul(dm).sum().toType(DataType.FLOAT64, false).getDouble();
            double den = h.times(wm).mul(wm).sum().toType(DataType.FLOAT64, false).getDouble();
            return den > 0 ? Math.sqrt(Math.max(0, num) / den) : 0;
        }
    }

    /** The result as the SPI's frozen tensor, in the model's manager. */
    static QuantizedTensor frozen(Gptq.Result r, QuantSpec spec, int out, int in, NDManager m) {
        byte[] codes = r.codes();
        DataType codeType = spec.symmetric() ? DataType.INT8 : DataType.UINT8;
        NDArray c = m.create(java.nio.ByteBuffer.wrap(codes), new Shape(out, in), codeType);
        NDArray s = m.create(r.scale(), new Shape(out, r.groups()));
        NDArray z = r.zero() == null ? null : m.create(r.zero(), new Shape(out, r.groups()));
        NDArray g = r.groupIndex() == null ? null : m.create(r.groupIndex(), new Shape(in));
        return new QuantizedTensor(spec, c, s, z, g);
    }
}
