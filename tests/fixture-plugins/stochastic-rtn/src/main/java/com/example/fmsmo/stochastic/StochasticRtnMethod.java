package com.example.fmsmo.stochastic;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantReport;

/** Freezes every planned layer with a {@link StochasticQuantizer}; one seeded generator for the run. */
final class StochasticRtnMethod implements QuantMethod {

    @Override
    public QuantReport quantize(QuantContext context) {
        long start = System.nanoTime();
        SplittableRandom random = new SplittableRandom(context.config().getInt("seed", 0));
        List<LayerDecision> todo = context.plan().quantized();
        List<QuantReport.LayerResult> results = new ArrayList<>();
        context.progress().begin("stochastic-rtn", todo.size(), "layers");
        try {
            for (LayerDecision d : todo) {
                if (context.progress().isCancelled()) { // the conformance kit's cancellation contract
                    throw new java.util.concurrent.CancellationException("stochastic-rtn cancelled before layer " + d.name());
                }
                LayerWrapper w = context.wrap(d.name(), new StochasticQuantizer(d.weightSpec(), random.split()), null);
                w.freeze();
                results.add(new QuantReport.LayerResult(d.name(), d.weightSpec(), Map.of()));
                context.progress().advance(1);
            }
        } finally {
            context.progress().end();
        }
        return new QuantReport("stochastic-rtn", results, (System.nanoTime() - start) / 1e9);
    }
}
