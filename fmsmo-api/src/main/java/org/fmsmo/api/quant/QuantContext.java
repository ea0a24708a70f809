package org.fmsmo.api.quant;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.Stable;
import org.fmsmo.api.model.QuantizableModel;

/**
 * What the host gives a {@link QuantMethod}: the model to change in place, the plan, the config,
 * and access to the other installed providers. Implemented by the host; plugins only call it.
 * Not thread-safe.
 */
@Stable(since = "1.0")
public interface QuantContext {

    /** The model, changed in place by the method. */
    @Experimental(since = "1.0")
    QuantizableModel model();

    /** Which layers to quantize and how. */
    QuantPlan plan();

    /** The run's settings. */
    QuantConfig config();

    /**
     * A new quantizer for {@code spec} from an installed {@link QuantizerProvider}.
     *
     * @param mode the quantizer mode ({@code max}, {@code minmax}); null picks the default mode
     *             for the spec (symmetric: {@code max}, asymmetric: {@code minmax})
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNKNOWN_NAME} listing the
     *         installed modes, or {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC}
     */
    Quantizer quantizer(String mode, QuantSpec spec);

    /**
     * Wraps a layer with the host's wrapper for linear layers ({@code qlinear}).
     *
     * @param inputQuantizer null for weight-only quantization
     */
    LayerWrapper wrap(String layerName, Quantizer weightQuantizer, Quantizer inputQuantizer);

    /** Where to report progress; never null. */
    ProgressListener progress();

    /**
     * {@code qmodel_prep}: wraps every linear layer and attention matmul the plan quantizes with
     * quantizers of its planned modes and specs, then calibrates for the config's
     * {@code qmodel_calibration} batches (all the host has when the key is absent). Afterwards the
     * model is ready to train or to freeze. Layers that are already wrapped and not frozen (a
     * model restored from a training checkpoint) are reused with their state, and calibration is
     * skipped when every layer was ({@code ckpt_reload}).
     *
     * @return the wrappers of the linear layers, in forward order
     */
    List<LayerWrapper> prepare();

    /**
     * Runs the host's calibration examples through the model as it now is: every wrapper first
     * goes into calibration mode (its quantizers observe, it computes in float), then the
     * quantizers end calibration (ranges fixed) and the wrappers return to quantized mode.
     *
     * @return the number of batches run; 0 when the host has no calibration examples
     */
    int calibrate();

    /**
     * Per input channel, {@code max |x|} of each named linear layer's input over the calibration
     * examples, from one pass of the model as it now is (SmoothQuant's statistics).
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#INVALID_ARGUMENT} when
     *         the host has no calibration examples
     */
    Map<String, float[]> inputChannelAbsMax(Collection<String> layers);

    /**
     * Smooths a set of layers that share one input: their input is divided by {@code s} per
     * channel and their weights' columns multiplied by {@code s}, so the float model computes the
     * same function. The division is folded into the producer of the input when the plan's
     * {@link InputGroup} says that is possible: a norm's gain (and bias), or, since 1.6, the output
     * rows of the linear layer whose output channels become this input's one to one (v_proj before
     * o_proj without grouped heads, up_proj before a gated MLP's down_proj) — even when that layer
     * is already frozen, whose per-channel or per-group weight scales then take the division
     * exactly; otherwise each layer's wrapper divides its input at
     * run time — unless the config's {@code smoothq_fold_only} is true (deployable formats hold
     * no run-time divisor), in which case such a group is left as it is. Call before the layers
     * are wrapped.
     *
     * @param layers every layer of one input group
     * @param s      one positive factor per input channel
     */
    void smooth(List<String> layers, float[] s);

    /**
     * Quantizes layer by layer in forward order, each stage from the inputs it sees once every
     * earlier stage is quantized (GPTQ's sequential mode). The host runs the calibration examples
     * one transformer block at a time (memory does not grow with depth); within a block, each
     * stage is the planned layers that read one input (q/k/v, gate/up, or a single layer), so
     * layers sharing an input share one capture. For each stage it calls
     * {@code stage.quantize(layers, inputs)}; the method must leave those layers quantized (wrapped
     * and frozen) before returning, as later stages are computed through them.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#INVALID_ARGUMENT} without
     *         calibration examples; {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} for a model
     *         the host cannot run block by block
     */
    @Experimental(since = "1.0")
    default void sequential(Stage stage) {
        throw new UnsupportedOperationException(getClass().getName() + " cannot quantize sequentially");
    }

    /**
     * The per-stage step of the installed method {@code method} ({@link QuantMethod#stageQuantizer}),
     * created for this context, so that a method can transform each stage and let another quantize it.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNKNOWN_NAME} listing the
     *         installed methods, or {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} when that method
     *         does not quantize stage by stage
     */
    @Experimental(since = "1.6")
    default StageQuantizer stageQuantizer(String method) {
        throw new UnsupportedOperationException(getClass().getName() + " cannot compose methods");
    }

    /**
     * The training objective the host set up for this run (training text, optional distillation
     * teacher, evaluation text), or empty when it was given no training data.
     */
    @Experimental(since = "1.0")
    default java.util.Optional<TrainingObjective> training() {
        return java.util.Optional.empty();
    }

    /** One step of {@link #sequential}. */
    @Experimental(since = "1.0")
    @FunctionalInterface
    interface Stage {
        /**
         * @param layers the planned layers that read this input, in forward order
         * @param inputs their input over the calibration examples
         */
        void quantize(List<String> layers, LayerInputs inputs);
    }

    /** The input a stage's layers read, over every calibration example. */
    @Experimental(since = "1.0")
    interface LayerInputs {
        /**
         * Runs the block on every calibration batch and gives {@code batch} each batch's input as
         * a FLOAT32 {@code [tokens, inFeatures]} array of real (not padding) tokens; the array is
         * freed when {@code batch} returns.
         */
        void forEach(java.util.function.Consumer<ai.djl.ndarray.NDArray> batch);
    }

    /**
     * SmoothQuant over the plan.
     *
     * @deprecated the algorithm is not the context's: call {@link SmoothQuant#apply(QuantContext, double)}
     */
    @Deprecated(since = "1.4", forRemoval = true)
    default void smoothQuant(double alpha) {
        SmoothQuant.apply(this, alpha);
    }
}
