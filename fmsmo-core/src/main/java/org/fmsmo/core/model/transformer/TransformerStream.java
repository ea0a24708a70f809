package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.io.safetensors.FloatConversions;
import org.fmsmo.core.io.safetensors.SafetensorsModel;
import org.fmsmo.core.io.safetensors.TensorInfo;
import org.fmsmo.core.model.BlockDecoder;
import org.fmsmo.core.model.BlockView;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Attention;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.Weights;

/**
 * A decoder checkpoint opened for layer-by-layer work: the same blocks as
 * {@link TransformerForCausalLM}, loaded one at a time from the mapping. Embedding rows are gathered
 * from the mapped table for the tokens a batch holds, so the table is never converted whole.
 */
public final class TransformerStream implements StreamedModel {

    private final HfConfig hf;
    private final TransformerSpec spec;
    private final SafetensorsModel checkpoint;
    private final NDManager manager;
    private final Ropes ropes;
    private final BlockDecoder decoder;
    private final String embedding;
    /** The learned position table, {@code [maxPositions, hidden]}; null with rotary positions. */
    private final NDArray positions;

    /**
     * @param maxTokens the longest sequence that will be run (the rotary tables are built for it)
     * @param decoder   decodes a quantized checkpoint's blocks ({@link BlockDecoder#NONE} for a float one)
     */
    public TransformerStream(HfConfig hf, TransformerSpec spec, SafetensorsModel checkpoint, int maxTokens, BlockDecoder decoder) {
        this.hf = hf;
        this.spec = spec;
        this.decoder = decoder;
        this.checkpoint = checkpoint;
        this.embedding = spec.names().of(Part.EMBEDDING) + ".weight";
        TensorInfo emb = require(embedding);
        if (emb.shape().length != 2 || emb.shape()[0] != spec.vocabSize() || emb.shape()[1] != spec.hiddenSize()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, checkpoint.dir() + ", tensor '" + embedding + "': expected shape ["
                    + spec.vocabSize() + ", " + spec.hiddenSize() + "] from config.json, found " + java.util.Arrays.toString(emb.shape()));
        }
        require(spec.names().of(Part.FINAL_NORM) + ".weight");
        if (!spec.tieWordEmbeddings() || checkpoint.names().contains(headWeight())) {
            require(headWeight());
        }
        this.manager = NDManager.newBaseManager();
        try {
            this.ropes = new Ropes(spec, hf, manager, Math.min(spec.maxPositions(), Math.max(1, maxTokens)));
            this.positions = spec.positions() == TransformerSpec.Positions.LEARNED
                    ? new Weights(checkpoint, manager, List.of()).take(positionsName(), spec.maxPositions(), spec.hiddenSize()) : null;
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    private String positionsName() {
        return spec.names().of(Part.POSITION_EMBEDDING) + ".weight";
    }

    private String headWeight() {
        return spec.names().of(Part.LM_HEAD) + ".weight";
    }

    private TensorInfo require(String name) {
        if (!checkpoint.names().contains(name)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "tensor '" + name + "' is missing from the checkpoint in " + checkpoint.dir());
        }
        return checkpoint.info(name);
    }

    @Override
    public HfConfig config() {
        return hf;
    }

    @Override
    public SafetensorsModel checkpoint() {
        return checkpoint;
    }

    @Override
    public int numBlocks() {
        return spec.numLayers();
    }

    @Override
    public String blockPath(int i) {
        return spec.names().of(Part.LAYERS) + "." + i;
    }

    @Override
    public TransformerModel.BlockInput blockInput(NDArray inputIds, NDArray attentionMask) {
        long[] ids = inputIds.toLongArray();
        int h = spec.hiddenSize();
        TensorInfo info = checkpoint.info(embedding);
        MemorySegment table = checkpoint.file(embedding).bytes(embedding);
        float[] rows = new float[Math.multiplyExact(ids.length, h)];
        MemorySegment out = MemorySegment.ofArray(rows);
        long rowBytes = (long) h * info.dtype().size();
        for (int k = 0; k < ids.length; k++) {
            if (ids[k] < 0 || ids[k] >= spec.vocabSize()) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "token id " + ids[k] + " is outside the vocabulary of "
                        + spec.vocabSize());
            }
            FloatConversions.widen(info.dtype(), table.asSlice(ids[k] * rowBytes, rowBytes), out.asSlice(k * h * 4L, h * 4L), h);
        }
        // Each row read maps the pages around it too (the kernel's fault-around): a few thousand
        // random ids leave most of an 8B model's 1 GB table resident unless it is let go.
        checkpoint.file(embedding).release(embedding);
        NDManager m = inputIds.getManager();
        long[] shape = inputIds.getShape().getShape();
        int t = Math.toIntExact(shape[1]);
        NDArray x = Embeddings.finish(spec, m.create(rows, new Shape(shape[0], t, h)), positions);
        return new TransformerModel.BlockInput(x, Attention.causalMask(m, t));
    }

    @Override
    public Module loadBlock(int i, NDManager blockManager) {
        Weights weights = new Weights(checkpoint, blockManager, List.of());
        // A quantized checkpoint's block is decoded by its format, one block at a time.
        Consumer<BlockView> inputs = decoder.decode(weights, blockPath(i) + ".");
        TransformerBlock layer = new TransformerBlock(spec, i, weights, blockPath(i), ropes.of(i));
        layer.assignPaths(blockPath(i));
        inputs.accept(new BlockView(hf.architecture(hf.modelType()), layer, blockManager));
        return layer;
    }

    @Override
    public NDArray runBlock(Module block, NDArray hidden, NDArray mask) {
        return ((TransformerBlock) block).forward(hidden, mask);
    }

    /** The head on its own: the final norm and {@code lm_head} at their checkpoint paths. */
    private static final class Head extends Module {
        private final LmHead head;

        Head(TransformerSpec spec, Weights w, String embedding) {
            this.head = new LmHead(spec, w, this, () -> w.take(embedding, spec.vocabSize(), spec.hiddenSize()));
        }

        NDArray forward(NDArray hidden) {
            return head.forward(hidden, this::linear);
        }
    }

    @Override
    public Module loadHead(NDManager headManager) {
        Head head = new Head(spec, new Weights(checkpoint, headManager, List.of()), embedding);
        head.assignPaths("");
        return head;
    }

    @Override
    public NDArray runHead(Module head, NDArray hidden) {
        return ((Head) head).forward(hidden);
    }

    @Override
    public List<String> leadingTensors() {
        return positions == null ? List.of(embedding) : List.of(embedding, positionsName());
    }

    @Override
    public List<String> trailingTensors() {
        String norm = spec.names().of(Part.FINAL_NORM);
        List<String> t = new ArrayList<>(List.of(norm + ".weight"));
        if (spec.norm() == TransformerSpec.Norm.LAYER_NORM) {
            t.add(norm + ".bias");
        }
        if (checkpoint.names().contains(headWeight())) {
            t.add(headWeight());
        }
        return t;
    }

    @Override
    public List<String> outerLinears() {
        return List.of(spec.names().of(Part.LM_HEAD));
    }

    @Override
    public void close() {
        manager.close();
        checkpoint.close();
    }
}
