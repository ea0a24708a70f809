package org.fmsmo.api.quant;

import org.fmsmo.api.Stable;

/**
 * A quantization technique (RTN, PTQ calibration, GPTQ, SmoothQuant, AWQ, QAT, FP8). It changes
 * the context's model in place: after it returns, every layer the plan quantizes is a frozen
 * {@link LayerWrapper}. A method checks {@link ProgressListener#isCancelled()} between layers.
 * One instance runs once; not thread-safe.
 */
@Stable(since = "1.0")
public interface QuantMethod {

    /**
     * Runs the method.
     *
     * @param context not null
     * @return what was done, per layer
     * @throws org.fmsmo.api.FmsmoException when the plan asks for something the method cannot do
     * @throws java.util.concurrent.CancellationException when cancelled through the progress listener
     */
    QuantReport quantize(QuantContext context);
}
