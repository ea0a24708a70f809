package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDManager;
import java.util.HashMap;
import java.util.Map;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.ModelConfig;
import org.fmsmo.api.arch.RopeParameters;
import org.fmsmo.core.nn.RotaryEmbedding;

/** One rotary table per distinct set of parameters (Gemma 3's local and global layers turn differently). */
final class Ropes {

    private final TransformerSpec spec;
    private final Map<RopeParameters, RotaryEmbedding> tables = new HashMap<>();

    /**
     * Builds every table up front, so that a rope type the host cannot run fails before any weight is read.
     *
     * @param positions how many positions the tables cover
     */
    Ropes(TransformerSpec spec, ModelConfig config, NDManager manager, int positions) {
        this.spec = spec;
        for (TransformerSpec.Layer l : spec.layers()) {
            if (l.rope() == null) {
                continue; // learned positions
            }
            tables.computeIfAbsent(l.rope(), p -> new RotaryEmbedding(manager, RotaryEmbedding.inverseFrequencies(p, spec.headDim(), config),
                    positions));
        }
    }

    /** Layer {@code layer}'s table; null with learned positions. */
    RotaryEmbedding of(int layer) {
        TransformerSpec.Layer l = spec.layers().get(layer);
        return l.rope() == null ? null : tables.get(l.rope());
    }
}
