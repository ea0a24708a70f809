package org.fmsmo.api.format;

import java.util.Map;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.model.QuantizableModel;

/**
 * A checkpoint layout other tools load (compressed-tensors, GPTQ …): how frozen layers become
 * stored tensors and a {@code quantization_config}, and back. The host does the file work — it
 * copies the unquantized tensors in their original dtype, the tokenizer and companion files, and
 * commits the folder atomically — so a format only names, packs and describes. Not thread-safe.
 */
@Experimental(since = "1.0")
public interface CheckpointFormat {

    /**
     * Whether every frozen layer of {@code model} can be expressed in this format; when false,
     * {@link #write} throws an error naming the first layer that cannot.
     */
    boolean canWrite(QuantizableModel model);

    /**
     * Checks before anything is quantized that layers quantized as {@code plan} says could be
     * written in this format (bits, granularity, activations, shapes), so that a long run does not
     * end in a refusal. {@link #write} still checks what was actually frozen (for example
     * F16-exact scales). The default accepts every plan.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} naming
     *         the first planned layer the format cannot hold and what it expects
     */
    default void checkPlan(QuantizableModel model, org.fmsmo.api.quant.QuantPlan plan) {
    }

    /**
     * The dtype ({@code F32}, {@code F16}, {@code BF16}) every float tensor that no
     * {@link CheckpointSink#replace} took over is stored in; null (the default) keeps each one's
     * dtype in the source checkpoint. A format that stores weights still being trained asks for
     * {@code F32}, so that nothing learned is rounded away.
     */
    @Experimental(since = "1.5")
    default String floatDtype() {
        return null;
    }

    /**
     * Describes {@code model}'s frozen layers to {@code sink}: each quantized linear's tensors
     * (which replace its float weight), the {@code quantization_config} and any extra files.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} naming
     *         the first layer the format cannot hold
     */
    void write(QuantizableModel model, CheckpointSink sink);

    /**
     * Whether this format can be written part by part ({@link #writeLayers}, then {@link #finish}),
     * so that a model larger than memory is written as its layers are frozen.
     */
    @Experimental(since = "1.1")
    default boolean streams() {
        return false;
    }

    /**
     * Streamed writing: describes the frozen layers of one part of the model (a decoder block) to
     * {@code sink}, as {@link #write} does for a whole model, and remembers what the
     * {@code quantization_config} will need. Called once per part, in forward order; the part's
     * arrays are freed after the call.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} naming
     *         the first layer the format cannot hold, or one that does not fit with earlier parts
     * @throws UnsupportedOperationException when {@link #streams()} is false
     */
    @Experimental(since = "1.1")
    default void writeLayers(QuantizableModel part, CheckpointSink sink) {
        throw new UnsupportedOperationException(getClass().getName() + " cannot be written part by part");
    }

    /**
     * Ends a streamed write: sets the {@code quantization_config} (and any extra files) for every
     * layer given to {@link #writeLayers}.
     *
     * @param otherLinears linear layers the host copied through in float without handing them to a part ({@code lm_head})
     */
    @Experimental(since = "1.1")
    default void finish(java.util.List<String> otherLinears, CheckpointSink sink) {
        throw new UnsupportedOperationException(getClass().getName() + " cannot be written part by part");
    }

    /**
     * Streamed writing, made resumable: what {@link #writeLayers} has remembered so far, as JSON
     * values (maps, lists, strings, numbers, booleans, nulls). The host saves it with each finished
     * part, so that a run killed later continues after that part instead of starting over.
     *
     * @return null when this format cannot resume a streamed write (the run then starts over)
     */
    @Experimental(since = "1.2")
    default Map<String, Object> streamState() {
        return null;
    }

    /**
     * Streamed writing, resumed: on a fresh instance, takes back what {@link #streamState}
     * returned, as if the parts written before it had been given to {@link #writeLayers} again.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#CORRUPT_INPUT} when the state is not one this format wrote
     */
    @Experimental(since = "1.2")
    default void restoreStreamState(Map<String, Object> state) {
        throw new UnsupportedOperationException(getClass().getName() + " cannot resume a streamed write");
    }

    /**
     * Dequantizes every quantized linear of a checkpoint in this format. The host calls it for a
     * folder whose {@code config.json} names this format's provider: by the key fmsmo writes
     * ({@code fmsmo_checkpoint_format}), or, in a folder another tool wrote, by
     * {@code quantization_config.quant_method} — so a format reading Hugging Face checkpoints is
     * named after the {@code quant_method} it reads.
     *
     * @return layer name → its float weight, row-major {@code [out, in]}
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#CORRUPT_INPUT} naming the
     *         tensor and what was expected
     */
    default Map<String, float[]> read(CheckpointSource source) {
        throw new UnsupportedOperationException(getClass().getName() + " does not read checkpoints");
    }

    /**
     * The input quantization a serving engine applies to each quantized layer of a checkpoint in
     * this format (from its {@code quantization_config} and stored input scales); the host wraps
     * those layers so that evaluating the loaded model simulates it. Layers absent from the map
     * run with float inputs.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} for an
     *         activation scheme the host cannot simulate, {@link org.fmsmo.api.ErrorCode#CORRUPT_INPUT}
     *         for a missing scale
     */
    default Map<String, InputQuantization> inputQuantization(CheckpointSource source) {
        return Map.of();
    }

    /**
     * The KV-cache scales a stored checkpoint holds, by attention module, so that a loaded model
     * computes attention as the serving engine does; empty (the default) when it holds none.
     *
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#CORRUPT_INPUT} for a
     *         scheme it cannot honour or a missing or bad scale
     */
    @Experimental(since = "1.6")
    default java.util.Map<String, org.fmsmo.api.quant.KvCacheScales> kvCache(CheckpointSource source) {
        return java.util.Map.of();
    }
}
