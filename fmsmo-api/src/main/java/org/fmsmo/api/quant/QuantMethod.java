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

    /**
     * Whether the method can run one block at a time: it changes only the layers of the
     * context's model and reads only what the context gives (calibration, input statistics,
     * sequential stages), so the host may call {@link #quantize} once per decoder block of a
     * model too large to load, each time with a context scoped to that block and fed with the
     * hidden states the earlier, already-quantized blocks produce. Methods that need the whole
     * model at once (training) return false, the default.
     */
    @org.fmsmo.api.Experimental(since = "1.1")
    default boolean perBlock() {
        return false;
    }

    /**
     * This method's step for one sequential stage, for another method to compose with (AWQ's
     * scales followed by GPTQ), or empty when the method does not quantize stage by stage. The
     * step reads its settings from {@code context}'s config and reports progress per layer; it
     * does not begin or end a progress phase of its own.
     */
    @org.fmsmo.api.Experimental(since = "1.6")
    default java.util.Optional<StageQuantizer> stageQuantizer(QuantContext context) {
        return java.util.Optional.empty();
    }
}
