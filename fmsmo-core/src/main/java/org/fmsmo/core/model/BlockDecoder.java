package org.fmsmo.core.model;

import java.util.function.Consumer;
import org.fmsmo.core.nn.Weights;

/**
 * How a streamed model gets a quantized checkpoint's layers one block at a time: the loader
 * (which knows the installed formats) gives it this, so that models need not know about formats.
 */
@FunctionalInterface
public interface BlockDecoder {

    /** For checkpoints without a {@code quantization_config}: nothing to decode. */
    BlockDecoder NONE = (weights, prefix) -> block -> { };

    /**
     * Puts the dequantized weights of the quantized layers under {@code prefix}
     * ({@code model.layers.3.}) into {@code weights}, before the block is built from them.
     *
     * @return what to do to the built block (quantize what the format quantizes at run time: layer inputs, the KV cache)
     */
    Consumer<BlockView> decode(Weights weights, String prefix);
}
