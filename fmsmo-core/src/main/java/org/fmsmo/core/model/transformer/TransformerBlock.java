package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.api.quant.Scalars;
import org.fmsmo.core.nn.Module;
import java.util.ArrayList;
import java.util.List;
import org.fmsmo.core.nn.Embedding;
import org.fmsmo.core.nn.LayerNorm;
import org.fmsmo.core.nn.ModuleList;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.nn.Normalization;
import org.fmsmo.core.nn.RmsNorm;
import org.fmsmo.core.nn.RotaryEmbedding;
import org.fmsmo.core.nn.Scopes;
import org.fmsmo.core.nn.Trace;
import org.fmsmo.core.nn.Weights;

/**
 * One block of a pre-norm transformer, decoder or encoder. Pre-norm: {@code h = x + r·attn(n₁(x)); y = h + r·mlp(n₂(h))} with Granite's
 * residual multiplier {@code r} (1 elsewhere). Sandwich (Gemma): each sub-layer's output is normed
 * before it joins the residual.
 */
final class TransformerBlock extends Module {

    private final TransformerSpec spec;
    private final SelfAttention attention;
    private final FeedForward mlp;
    private final SparseMlp sparse;
    private final Normalization inputNorm;
    private final Normalization postAttentionNorm;
    private final Normalization preFeedforwardNorm;
    private final Normalization postFeedforwardNorm;

    TransformerBlock(TransformerSpec s, int layer, Weights w, String prefix, RotaryEmbedding rope) {
        this.spec = s;
        TransformerSpec.Names n = s.names();
        String attn = n.of(Part.ATTENTION);
        this.attention = addModule(attn, new SelfAttention(s, layer, w, prefix + "." + attn, rope));
        if (s.layers().get(layer).sparse()) {
            String name = n.of(Part.SPARSE_MLP);
            this.sparse = addModule(name, new SparseMlp(s, w, prefix + "." + name));
            this.mlp = null;
        } else {
            String name = n.of(Part.MLP);
            this.mlp = addModule(name, FeedForward.dense(s, w, prefix + "." + name));
            this.sparse = null;
        }
        this.inputNorm = hasInputNorm(s, layer) ? addNorm(s, w, prefix, Part.INPUT_NORM) : null;
        this.postAttentionNorm = addNorm(s, w, prefix, Part.POST_ATTENTION_NORM);
        boolean sandwich = s.layout() == TransformerSpec.Layout.SANDWICH;
        this.preFeedforwardNorm = sandwich ? addNorm(s, w, prefix, Part.PRE_FEEDFORWARD_NORM) : null;
        this.postFeedforwardNorm = sandwich ? addNorm(s, w, prefix, Part.POST_FEEDFORWARD_NORM) : null;
    }

    /** Builds every block of {@code s} and adds them, numbered, at the spec's layers path of {@code root}. */
    static List<TransformerBlock> addAll(Module root, TransformerSpec s, Weights w, Ropes ropes) {
        List<TransformerBlock> list = new ArrayList<>();
        String layers = s.names().of(Part.LAYERS);
        for (int i = 0; i < s.numLayers(); i++) {
            list.add(new TransformerBlock(s, i, w, layers + "." + i, ropes.of(i)));
        }
        return root.addModuleAt(layers, new ModuleList<>(list)).items();
    }

    /** The token embedding, added at the spec's path of {@code root}. */
    static Embedding addEmbedding(Module root, TransformerSpec s, Weights w) {
        String emb = s.names().of(Part.EMBEDDING);
        return root.addModuleAt(emb, new Embedding(w.take(emb + ".weight", s.vocabSize(), s.hiddenSize())));
    }

    /** Every block has an input norm but an encoder's first, when it says so (ModernBERT: the embedding norm serves). */
    static boolean hasInputNorm(TransformerSpec s, int layer) {
        return layer > 0 || s.encoder() == null || s.encoder().firstBlockNorm();
    }

    private Normalization addNorm(TransformerSpec s, Weights w, String prefix, Part part) {
        String name = s.names().of(part);
        return (Normalization) addModule(name, norm(s, w, prefix + "." + name, s.hiddenSize()));
    }

    /** A norm of the spec's kind over {@code width} features, from {@code prefix.weight} (and {@code .bias}). */
    static Module norm(TransformerSpec s, Weights w, String prefix, long width) {
        return switch (s.norm()) {
            case LAYER_NORM -> new LayerNorm(w.take(prefix + ".weight", width), w.take(prefix + ".bias", width), s.normEps());
            case LAYER_NORM_NO_BIAS -> new LayerNorm(w.take(prefix + ".weight", width), null, s.normEps());
            case RMS, RMS_UNIT_OFFSET -> new RmsNorm(w.take(prefix + ".weight", width), s.normEps(), s.norm() == TransformerSpec.Norm.RMS_UNIT_OFFSET);
        };
    }

    /** A linear layer {@code prefix}, read in the layout the checkpoint stores (GPT-2's {@code [in, out]}). */
    static Linear linear(TransformerSpec s, Weights w, String prefix, long in, long out, boolean bias) {
        return s.transposedWeights() ? w.transposedLinear(prefix, in, out, bias) : w.linear(prefix, in, out, bias);
    }

    NDArray forward(NDArray x, NDArray mask) {
        boolean sandwich = spec.layout() == TransformerSpec.Layout.SANDWICH;
        // Each half in a scope of its own: its intermediates (norm, rotary, scores) are freed as
        // soon as its output exists, not when the caller's scope ends.
        NDArray a = step("attention", () -> Scopes.step(() -> {
            NDArray out = attention.forward(inputNorm == null ? x : inputNorm.forward(x), mask);
            return sandwich ? postAttentionNorm.forward(out) : residual(out);
        }));
        NDArray h = Trace.call("add", path(), x.add(a), x, a);
        NDArray m = Scopes.step(() -> {
            NDArray in = (sandwich ? preFeedforwardNorm : postAttentionNorm).forward(h);
            NDArray out = sparse != null ? sparse.forward(in) : mlp.forward(in);
            return sandwich ? postFeedforwardNorm.forward(out) : residual(out);
        });
        return Trace.call("add", path(), h.add(m), h, m);
    }

    private NDArray residual(NDArray out) {
        double r = spec.scaling().residual();
        return r == 1 ? out : Scalars.mul(out, (float) r);
    }

    // For ResidualRotation.

    Normalization inputNorm() {
        return inputNorm;
    }

    Normalization postAttentionNorm() {
        return postAttentionNorm;
    }

    SelfAttention attention() {
        return attention;
    }

    /** The dense MLP; null for a mixture-of-experts layer. */
    FeedForward mlp() {
        return mlp;
    }
}
