package org.fmsmo.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.nn.Module;

/**
 * The root of a loaded model: its module tree, the {@code config.json} it came from, its
 * tokenizer and the manager that owns every weight. Closing it frees them all. Linear layers are
 * found and swapped by their HF names through {@link QuantizableModel}. Not thread-safe.
 */
public abstract class TransformerModel extends Module implements QuantizableModel, AutoCloseable {

    private final HfConfig config;
    private final NDManager manager;
    private HfTokenizer tokenizer;

    protected TransformerModel(HfConfig config, NDManager manager) {
        this.config = Objects.requireNonNull(config, "config");
        this.manager = Objects.requireNonNull(manager, "manager");
    }

    /** What the model is for, as its architecture says: how it is calibrated, evaluated and trained. */
    public abstract org.fmsmo.api.arch.ArchitectureSpec.Task task();

    /** The config this model was built from. */
    public HfConfig config() {
        return config;
    }

    /** The folder the model was loaded from. */
    public Path dir() {
        return config.file().getParent();
    }

    @Override
    public String architecture() {
        return config.architecture(getClass().getSimpleName());
    }

    /** The tokenizer of the model folder; the model closes it. */
    public HfTokenizer tokenizer() {
        if (tokenizer == null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "model from " + dir() + " was loaded without a tokenizer");
        }
        return tokenizer;
    }

    /** Whether the model was loaded with its tokenizer. */
    public boolean hasTokenizer() {
        return tokenizer != null;
    }

    /** Attaches the tokenizer; the model takes ownership. */
    public void setTokenizer(HfTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public List<org.fmsmo.api.quant.KvCacheScales> kvCache() {
        return org.fmsmo.core.quant.KvCache.of(this);
    }

    @Override
    public List<LinearLayer> linearLayers() {
        return LinearLayers.all(this, "");
    }

    @Override
    public LinearLayer linear(String name) {
        return LinearLayers.find(this, "", name, architecture());
    }

    @Override
    public void replace(String name, LinearLayer replacement) {
        LinearLayers.checkReplacement(linear(name), replacement);
        replaceLinear(name, replacement);
    }

    /**
     * What enters the first block for one batch: hidden states {@code [B, T, H]} and the additive
     * attention mask the blocks take.
     */
    public record BlockInput(NDArray hidden, NDArray mask) {
    }

    /**
     * The layer-by-layer view (GPTQ's sequential path): the embeddings of a batch, to be run
     * through {@link #runBlock} for each of {@link #blocks()} in turn, then {@link #head}.
     *
     * @param inputIds      INT64 {@code [B, T]}
     * @param attentionMask INT64 {@code [B, T]}, 1 for real tokens; null for none
     */
    public abstract BlockInput blockInput(NDArray inputIds, NDArray attentionMask);

    /** The transformer blocks in forward order. */
    public abstract List<? extends Module> blocks();

    /** Runs block {@code i} on {@code hidden}; the arrays it creates are the caller's to free. */
    public abstract NDArray runBlock(int i, NDArray hidden, NDArray mask);

    /** What follows the last block (final norm and {@code lm_head}; nothing for an encoder). */
    public abstract NDArray head(NDArray hidden);

    /**
     * Runs {@code in} through every block; each block's intermediates are freed as soon as it is
     * done, so memory does not grow with depth. Call inside the caller's {@code NDScope}.
     */
    protected final NDArray runBlocks(BlockInput in) {
        NDArray x = in.hidden();
        for (int i = 0; i < blocks().size(); i++) {
            NDArray prev = x;
            int block = i;
            x = org.fmsmo.core.nn.Scopes.step(() -> runBlock(block, prev, in.mask()));
            prev.close();
        }
        return x;
    }

    /**
     * Parameters held {@code [out, in]} that the checkpoint stores {@code [in, out]} (GPT-2's
     * {@code Conv1D}); a writer of float weights transposes them back. Empty for most models.
     */
    public java.util.Set<String> transposedParameters() {
        return java.util.Set.of();
    }

    /** The linear layers outside every block: the output head of a decoder ({@code lm_head}); none for an encoder. */
    public java.util.Set<String> outputHeads() {
        List<String> blockPaths = blocks().stream().map(b -> b.path() + ".").toList();
        java.util.Set<String> heads = new java.util.LinkedHashSet<>();
        for (LinearLayer l : linearLayers()) {
            if (blockPaths.stream().noneMatch(l.name()::startsWith)) {
                heads.add(l.name());
            }
        }
        return heads;
    }

    /** Every float parameter by checkpoint name; a tied weight appears once, under its first name. */
    public Map<String, NDArray> parameters() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        Map<NDArray, Boolean> seen = new IdentityHashMap<>();
        forEachParameter("", (name, p) -> {
            if (seen.put(p, Boolean.TRUE) == null) {
                out.put(name, p);
            }
        });
        return out;
    }

    /** Number of parameters (tied weights counted once). */
    public long parameterCount() {
        return parameters().values().stream().mapToLong(a -> a.getShape().size()).sum();
    }

    /** Bytes the parameters take in memory (FLOAT32 here). */
    public long parameterBytes() {
        return parameters().values().stream().mapToLong(a -> a.getShape().size() * a.getDataType().getNumOfBytes()).sum();
    }

    @Override
    public void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
        manager.close();
    }
}
