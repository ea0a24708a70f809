package org.fmsmo.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.nn.Module;

/**
 * A decoder whose weights stay memory-mapped in their stored dtype: only one block at a time is
 * materialised (as FLOAT32 arrays in a manager the caller closes), and the tensors outside the
 * blocks — embeddings, final norm, head — are read from the mapping when needed and copied through
 * to an output unchanged. This is what lets a model larger than memory be calibrated, quantized
 * and written layer by layer. Not thread-safe.
 */
public interface StreamedModel extends AutoCloseable {

    /** The config the model was opened from. */
    HfConfig config();

    /** The mapped checkpoint; owned by this model. */
    SafetensorsModel checkpoint();

    /** Number of decoder blocks. */
    int numBlocks();

    /** Module path of block {@code i} ({@code model.layers.3}). */
    String blockPath(int i);

    /**
     * The embeddings of a batch and the additive attention mask the blocks take, in {@code ids}'
     * manager, read from the mapped embedding table.
     *
     * @param attentionMask 1 for real tokens; null for none
     */
    TransformerModel.BlockInput blockInput(NDArray inputIds, NDArray attentionMask);

    /**
     * Materialises block {@code i}: its weights as FLOAT32 arrays in {@code manager}, its module
     * paths assigned from the model root. Free it by closing the manager.
     */
    Module loadBlock(int i, NDManager manager);

    /** Runs a block loaded by {@link #loadBlock}; the arrays it creates are the caller's to free. */
    NDArray runBlock(Module block, NDArray hidden, NDArray mask);

    /**
     * Materialises what follows the blocks (final norm and output head) in {@code manager}; the
     * head's weight is converted to FLOAT32 ({@code vocab × hidden × 4} bytes). Free it by closing
     * the manager.
     */
    Module loadHead(NDManager manager);

    /** Logits {@code [B, T, vocab]} of the last block's output, by a head from {@link #loadHead}. */
    NDArray runHead(Module head, NDArray hidden);

    /** Stored names of the tensors before the first block ({@code model.embed_tokens.weight}), in file order. */
    List<String> leadingTensors();

    /** Stored names of the tensors after the last block (final norm, an untied {@code lm_head}). */
    List<String> trailingTensors();

    /** Linear layers outside the blocks, kept in float ({@code lm_head}), by name. */
    List<String> outerLinears();

    @Override
    void close();
}
