package org.fmsmo.plugin.dq;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantReport;

/**
 * Direct quantization, SmoothQuant-style (QUANTIZERS.md). With {@code smoothq} (default true):
 * per input group (layers reading one tensor), from the calibration examples' per-channel
 * {@code max|X_j|} and the group's {@code max|W_{:,j}|},
 * {@code s_j = max|X_j|^α / max|W_{:,j}|^(1−α)} ({@code smoothq_alpha}, default 0.5); the host
 * divides the input by {@code s} (folded into the producing norm where it can) and multiplies the
 * weights' columns by it. Then {@code qmodel_prep} wraps the layers — weights per channel,
 * activations per token (dynamic) or per tensor (static, calibrated) as the plan says — and the
 * weights are frozen.
 */
final class DqMethod implements QuantMethod {

    @Override
    public boolean perBlock() {
        return true; // each layer from its own block's inputs
    }

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        if (context.config().getBoolean("smoothq", true)) {
            org.fmsmo.api.quant.SmoothQuant.apply(context, context.config().getDouble("smoothq_alpha", 0.5));
        }
        List<LayerWrapper> layers = context.prepare();
        List<QuantReport.LayerResult> results = new ArrayList<>();
        context.progress().begin("dq freeze", layers.size(), "layers");
        try {
            for (LayerWrapper l : layers) {
                if (context.progress().isCancelled()) {
                    throw new CancellationException("dq cancelled before layer " + l.name());
                }
                l.freeze();
                results.add(QuantReport.frozenLayerResult(l));
                context.progress().advance(1);
            }
        } finally {
            context.progress().end();
        }
        return new QuantReport("dq", results, (System.nanoTime() - start) / 1e9);
    }
}
