package org.fmsmo.api.arch;

import org.fmsmo.api.Experimental;

/**
 * What an architecture is, in terms of the components the host runs: the host builds the module
 * tree, runs the forward pass and names the layers from this description. A new combination of
 * existing components (renamed weights, another norm, a window on some layers) is a new
 * architecture plugin; a new component is a host change.
 */
@Experimental(since = "1.4")
public sealed interface ArchitectureSpec permits TransformerSpec, BertSpec {

    /** What the model is for, which decides how it is calibrated, evaluated and trained. */
    @Experimental(since = "1.4")
    enum Task {
        /** Next-token logits; perplexity; streamed block by block. */
        CAUSAL_LM,
        /** Hidden states pooled into sentence embeddings; embedding fidelity. */
        SENTENCE_ENCODER
    }

    Task task();
}
