package org.fmsmo.core.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.QuantizableModel;
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
import org.fmsmo.core.nn.RotaryEmbedding;
import org.fmsmo.core.nn.Weights;

/**
 * A Llama-family checkpoint ({@code llama}, {@code qwen2}, {@code mistral} without a sliding
 * window) opened for layer-by-layer work: the same blocks as {@link LlamaForCausalLM}, loaded
 * one at a time from the mapping; embedding rows are gathered from the mapped table for the
 * tokens a batch holds, so the table is never converted as a whole.
 */
public final class LlamaStream implements StreamedModel {

    private static final String EMBEDDING = "model.embed_tokens.weight";

    private final HfConfig hf;
    private final LlamaConfig config;
    private final SafetensorsModel checkpoint;
    private final NDManager manager;
    private final RotaryEmbedding rope;
    private final BlockDecoder decoder;

    /**
     * @param maxTokens the longest sequence that will be run (the rotary tables are built for it)
     * @param decoder   decodes a quantized checkpoint's blocks ({@link BlockDecoder#NONE} for a float one)
     */
    public LlamaStream(HfConfig hf, SafetensorsModel checkpoint, int maxTokens, BlockDecoder decoder) {
        this.hf = hf;
        this.decoder = decoder;
        this.config = LlamaConfig.from(hf);
        this.checkpoint = checkpoint;
        TensorInfo emb = require(EMBEDDING);
        if (emb.shape().length != 2 || emb.shape()[0] != config.vocabSize() || emb.shape()[1] != config.hiddenSize()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, checkpoint.dir() + ", tensor '" + EMBEDDING + "': expected shape ["
                    + config.vocabSize() + ", " + config.hiddenSize() + "] from config.json, found " + java.util.Arrays.toString(emb.shape()));
        }
        require("model.norm.weight");
        if (!config.tieWordEmbeddings() || checkpoint.names().contains("lm_head.weight")) {
            require("lm_head.weight");
        }
        this.manager = NDManager.newBaseManager();
        this.rope = new RotaryEmbedding(manager, config.inverseFrequencies(), Math.min(config.maxPositions(), Math.max(1, maxTokens)));
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
        return config.numLayers();
    }

    @Override
    public String blockPath(int i) {
        return "model.layers." + i;
    }

    @Override
    public TransformerModel.BlockInput blockInput(NDArray inputIds, NDArray attentionMask) {
        long[] ids = inputIds.toLongArray();
        int h = config.hiddenSize();
        TensorInfo info = checkpoint.info(EMBEDDING);
        MemorySegment table = checkpoint.file(EMBEDDING).bytes(EMBEDDING);
        float[] rows = new float[Math.multiplyExact(ids.length, h)];
        for (int k = 0; k < ids.length; k++) {
            if (ids[k] < 0 || ids[k] >= config.vocabSize()) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "token id " + ids[k] + " is outside the vocabulary of "
                        + config.vocabSize());
            }
            long base = ids[k] * h;
            for (int j = 0; j < h; j++) {
                rows[k * h + j] = FloatConversions.read(info.dtype(), table, base + j);
            }
        }
        // Each row read maps the pages around it too (the kernel's fault-around): a few thousand
        // random ids leave most of an 8B model's 1 GB table resident unless it is let go.
        checkpoint.file(EMBEDDING).release(EMBEDDING);
        NDManager m = inputIds.getManager();
        long[] shape = inputIds.getShape().getShape();
        int t = Math.toIntExact(shape[1]);
        return new TransformerModel.BlockInput(m.create(rows, new Shape(shape[0], t, h)), Attention.causalMask(m, t));
    }

    @Override
    public Module loadBlock(int i, NDManager blockManager) {
        Weights weights = new Weights(checkpoint, blockManager, List.of());
        // A quantized checkpoint's block is decoded by its format, one block at a time.
        Consumer<QuantizableModel> inputs = decoder.decode(weights, blockPath(i) + ".");
        LlamaDecoderLayer layer = new LlamaDecoderLayer(config, weights, blockPath(i));
        layer.assignPaths(blockPath(i));
        inputs.accept(new BlockView(hf.architecture(hf.modelType()), layer, blockManager));
        return layer;
    }

    @Override
    public NDArray runBlock(Module block, NDArray hidden, NDArray mask) {
        return ((LlamaDecoderLayer) block).forward(hidden, rope, mask);
    }

    @Override
    public Module loadHead(NDManager headManager) {
        LlamaHead head = new LlamaHead(config, new Weights(checkpoint, headManager, List.of()), EMBEDDING);
        head.assignPaths("");
        return head;
    }

    @Override
    public NDArray runHead(Module head, NDArray hidden) {
        return ((LlamaHead) head).forward(hidden);
    }

    @Override
    public List<String> leadingTensors() {
        return List.of(EMBEDDING);
    }

    @Override
    public List<String> trailingTensors() {
        List<String> t = new ArrayList<>(List.of("model.norm.weight"));
        if (checkpoint.names().contains("lm_head.weight")) {
            t.add("lm_head.weight");
        }
        return t;
    }

    @Override
    public List<String> outerLinears() {
        return List.of("lm_head");
    }

    @Override
    public void close() {
        manager.close();
        checkpoint.close();
    }
}
