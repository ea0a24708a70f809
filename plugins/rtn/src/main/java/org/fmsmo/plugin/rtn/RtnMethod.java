package org.fmsmo.plugin.rtn;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.Quantizer;

/**
 * Round-to-nearest: each planned layer's weight is quantized once by its quantizer, with no data
 * and no error correction, and the layer is frozen. Activations, when the plan quantizes them,
 * get their quantizer too (dynamic per-token specs need no calibration).
 *
 * <p>Config keys: {@code qw_mode} and {@code qa_mode} pick quantizer modes (default: the host's
 * default for each spec).
 */
final class RtnMethod implements QuantMethod {

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        List<LayerDecision> todo = context.plan().quantized();
        String weightMode = context.config().getString("qw_mode", null);
        String inputMode = context.config().getString("qa_mode", null);
        ProgressListener progress = context.progress();
        List<QuantReport.LayerResult> results = new ArrayList<>();
        progress.begin("rtn", todo.size(), "layers");
        try {
            for (LayerDecision d : todo) {
                if (progress.isCancelled()) {
                    throw new CancellationException("rtn cancelled before layer " + d.name());
                }
                Quantizer wq = context.quantizer(weightMode, d.weightSpec());
                Quantizer iq = d.inputSpec() == null ? null : context.quantizer(inputMode, d.inputSpec());
                LayerWrapper layer = context.wrap(d.name(), wq, iq);
                layer.freeze();
                results.add(QuantReport.frozenLayerResult(layer));
                progress.advance(1);
            }
        } finally {
            progress.end();
        }
        return new QuantReport("rtn", results, (System.nanoTime() - start) / 1e9);
    }
}
