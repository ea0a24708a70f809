package org.fmsmo.api.quant;

import java.util.List;
import org.fmsmo.api.Experimental;

/**
 * A method's step for one stage of {@link QuantContext#sequential}: quantizes and freezes the
 * stage's layers from their inputs. Methods that transform a stage before it is quantized (AWQ's
 * scales, rotations) compose with it: they change the layers and the producer of their input,
 * then hand the same {@link QuantContext.LayerInputs} on, which re-runs the block and so gives
 * the inputs as the transformed model now computes them.
 *
 * <p>Obtained from {@link QuantContext#stageQuantizer(String)}; one instance serves every stage
 * of one run. Not thread-safe.
 */
@Experimental(since = "1.6")
@FunctionalInterface
public interface StageQuantizer {

    /**
     * Wraps and freezes every layer of the stage.
     *
     * @param layers the stage's layers (they read one input), in forward order
     * @param inputs their input over the calibration examples, computed anew on each pass
     * @return one result per layer, in the order of {@code layers}
     * @throws java.util.concurrent.CancellationException when cancelled through the progress listener
     */
    List<QuantReport.LayerResult> quantize(List<String> layers, QuantContext.LayerInputs inputs);
}
