package org.fmsmo.core.context;

import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.nn.Module;

/**
 * What a {@link DefaultQuantContext} runs its calibration examples through: the whole loaded
 * model, or one materialised block of a streamed model fed with the hidden states the earlier
 * (already quantized) blocks produced.
 */
public interface CalibrationScope {

    /** The layers a method sees and changes. */
    QuantizableModel model();

    /** The module tree that holds the scope's norms and attention matmuls. */
    Module root();

    /** Whether there are calibration examples at all. */
    boolean hasExamples();

    /** Runs every calibration example through the scope once, as it now is. */
    default void forward(ProgressListener progress) {
        forward(Integer.MAX_VALUE, progress);
    }

    /** Runs the first {@code samples} calibration examples through the scope once, as it now is. */
    void forward(int samples, ProgressListener progress);

    /** Told that a method changed the model other than by freezing layers (a smoothing fold), so that nothing computed before is reused. */
    default void changed() {
    }

    /** {@link QuantContext#sequential} over the scope's planned layers. */
    void sequential(QuantPlan plan, QuantContext.Stage stage, boolean trueSequential);

    /** A module of the tree by its full path from the model root. */
    default Module module(String fullPath) {
        String prefix = root().path();
        if (prefix.isEmpty()) {
            return root().module(fullPath);
        }
        if (!fullPath.startsWith(prefix + ".")) {
            throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.UNKNOWN_NAME, "module '" + fullPath + "' is outside " + prefix);
        }
        return root().module(fullPath.substring(prefix.length() + 1));
    }
}
