package org.fmsmo.api.quant;

import ai.djl.ndarray.NDArray;
import java.util.Map;
import java.util.OptionalDouble;
import org.fmsmo.api.Experimental;

/**
 * What a training method (QAT) optimises, provided by the host, which knows the model's forward
 * pass, the training text and the teacher: the loss of one training batch, the float parameters
 * that may train besides the quantizers' own, and a held-out evaluation. The method owns the loop
 * (optimizer, schedule, clipping, accumulation). Not thread-safe.
 */
@Experimental(since = "1.0")
public interface TrainingObjective {

    /**
     * What the loss measures: {@code kl-distill} (KL divergence of the model's next-token
     * distribution from the float teacher's), {@code next-token} (cross-entropy on the text),
     * {@code embedding-cosine} (1 − cosine to the teacher's sentence embeddings) or
     * {@code embedding-mse} (their mean squared difference).
     */
    String name();

    /** Batches in one pass over the training data. */
    int batchesPerEpoch();

    /**
     * The mean loss of training batch {@code step}: batches cycle over the data, each pass in an
     * order that depends only on the run's seed and the pass number, so a given step always sees
     * the same batch. Call it inside a gradient collector: the result carries gradients to the
     * trainable arrays. Its intermediates belong to the caller's current {@code NDScope}.
     */
    NDArray loss(long step);

    /** Real (not padding) tokens in training batch {@code step}, for throughput. */
    long tokens(long step);

    /**
     * The model's trainable float arrays besides the quantizers' parameters, by name: the weights
     * and biases of the quantized linear layers (HF names, {@code …q_proj.weight}).
     */
    Map<String, NDArray> weights();

    /**
     * The held-out metric on the evaluation data — perplexity for a causal LM (lower is better),
     * mean cosine to the teacher for an encoder (higher is better) — or empty without evaluation
     * data. Runs without recording gradients.
     */
    OptionalDouble evaluate();

    /**
     * Saves a resumable checkpoint after {@code step} optimizer steps: the model as it now is
     * (float weights and quantizer state, unfrozen) in the fms native format, with the method's
     * own state (optimizer moments …) beside it. Written atomically; the host keeps the newest
     * few. Does nothing when the run has no checkpoint folder.
     *
     * @param methodState named FLOAT32 arrays; names are the method's business
     */
    default void checkpoint(long step, Map<String, NDArray> methodState) {
    }

    /**
     * When this run resumes from a checkpoint: the step it was saved after and the method state
     * saved with it. The model's weights and quantizer state were restored by the host already
     * (the layers are wrapped and not frozen, so preparing them again only reuses them).
     */
    default java.util.Optional<Resumed> resumed() {
        return java.util.Optional.empty();
    }

    /** What a checkpoint gives back to the method. */
    @Experimental(since = "1.0")
    record Resumed(long step, Map<String, float[]> methodState) {
        public Resumed {
            methodState = Map.copyOf(methodState);
        }
    }
}
