package org.fmsmo.plugin.outlier;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.RangeSource;

/**
 * LLM.int8(): every planned linear layer gets its planned weight quantizer (INT8 per output
 * channel for the paper's vector-wise weights) and the {@code llm_int8} input quantizer at the
 * plan's activation width (8 when the plan has none), whose per-batch outlier channels stay float
 * ({@code llm_int8_threshold}, default 6). Nothing is fitted: the calibration examples, when
 * given, are run once only to count each layer's outlier channels (metrics {@code outlier_fraction},
 * the mean share of input channels that were outliers per batch, and {@code outlier_channels_max}).
 * The weights are then frozen. As in bitsandbytes, the outlier channels multiply the dequantized
 * INT8 weight columns, so the checkpoint holds one INT8 weight per layer.
 */
final class LlmInt8Method implements QuantMethod {

    @Override
    public boolean perBlock() {
        return true; // each layer alone, from its own block's inputs
    }

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        float threshold = (float) context.config().getDouble("llm_int8_threshold", LlmInt8Quantizer.DEFAULT_THRESHOLD);
        LlmInt8QuantizerProvider inputs = new LlmInt8QuantizerProvider();
        List<LayerWrapper> layers = new ArrayList<>();
        Map<String, LlmInt8Quantizer> splits = new LinkedHashMap<>();
        for (LayerDecision d : context.plan().quantized()) {
            if (!d.kind().equals(LayerDecision.LINEAR)) {
                continue;
            }
            int bits = d.inputSpec() == null ? 8 : d.inputSpec().bits();
            if (d.inputSpec() != null && d.inputSpec().type() != QuantType.INT) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "llm_int8 quantizes inputs to INT per token; layer " + d.name()
                        + " is planned with " + d.inputSpec() + " (set nbits_a to 2-8 or leave it at 32 for INT8)");
            }
            LlmInt8Quantizer in = (LlmInt8Quantizer) inputs.create(new QuantSpec(QuantType.INT, bits, true, Granularity.TOKEN, 0,
                    RangeSource.DYNAMIC));
            in.loadState(Map.of("threshold", new float[] {threshold}));
            layers.add(context.wrap(d.name(), context.quantizer(d.weightMode(), d.weightSpec()), in));
            splits.put(d.name(), in);
        }
        int batches = context.calibrate(); // counts the outliers; fits nothing
        List<QuantReport.LayerResult> results = new ArrayList<>();
        context.progress().begin("llm_int8 freeze", layers.size(), "layers");
        try {
            for (LayerWrapper l : layers) {
                if (context.progress().isCancelled()) {
                    throw new CancellationException("llm_int8 cancelled before layer " + l.name());
                }
                l.freeze();
                QuantReport.LayerResult r = QuantReport.frozenLayerResult(l);
                Map<String, Double> metrics = new LinkedHashMap<>(r.metrics());
                if (batches > 0) {
                    metrics.put("outlier_fraction", splits.get(l.name()).outlierFraction());
                    metrics.put("outlier_channels_max", (double) splits.get(l.name()).maxOutliers());
                }
                results.add(new QuantReport.LayerResult(r.name(), r.spec(), metrics));
                context.progress().advance(1);
            }
        } finally {
            context.progress().end();
        }
        return new QuantReport("llm_int8", results, (System.nanoTime() - start) / 1e9);
    }
}
