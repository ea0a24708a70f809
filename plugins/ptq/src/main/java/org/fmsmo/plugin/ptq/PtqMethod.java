package org.fmsmo.plugin.ptq;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.RangeSource;

/**
 * Post-training quantization with static activation ranges: {@code qmodel_prep} wraps the planned
 * layers, calibration runs the examples through the float model while each input quantizer's
 * observer ({@code qa_mode_calib}: minmax, moving_minmax, percentile, MSE or entropy) collects
 * its range, then every weight is quantized and frozen. With {@code smoothq} the SmoothQuant
 * scales are applied first, which static per-tensor ranges need on models with outlier channels. Dynamic (per-token) activation specs need
 * no calibration but are allowed.
 */
final class PtqMethod implements QuantMethod {

    @Override
    public boolean perBlock() {
        return true; // each layer from its own block's inputs
    }

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        boolean needsRanges = context.plan().quantized().stream().map(LayerDecision::inputSpec)
                .anyMatch(s -> s != null && s.rangeSource() != RangeSource.DYNAMIC);
        if (context.config().getBoolean("smoothq", false)) {
            org.fmsmo.api.quant.SmoothQuant.apply(context, context.config().getDouble("smoothq_alpha", 0.5));
        }
        List<LayerWrapper> layers = context.prepare();
        if (needsRanges && layers.stream().allMatch(l -> l.inputQuantizer().map(q -> q.state().isEmpty()).orElse(true))) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "ptq with static activation ranges needs calibration examples "
                    + "(give a calibration file and qmodel_calibration > 0)");
        }
        List<QuantReport.LayerResult> results = new ArrayList<>();
        context.progress().begin("ptq freeze", layers.size(), "layers");
        try {
            for (LayerWrapper l : layers) {
                if (context.progress().isCancelled()) {
                    throw new CancellationException("ptq cancelled before layer " + l.name());
                }
                l.freeze();
                results.add(QuantReport.frozenLayerResult(l));
                context.progress().advance(1);
            }
        } finally {
            context.progress().end();
        }
        return new QuantReport("ptq", results, (System.nanoTime() - start) / 1e9);
    }
}
