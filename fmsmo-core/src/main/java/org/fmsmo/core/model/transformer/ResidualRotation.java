package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.nn.Normalization;
import org.fmsmo.core.nn.RmsNorm;
import org.fmsmo.core.rotation.Orthogonal;

/**
 * QuaRot's offline rotations (Ashkboos et al., 2024) of a pre-norm RMS decoder, which leave the
 * float model's function unchanged and spread outlier channels over all of them before
 * quantization:
 * <ul>
 * <li>the residual stream is rotated by an orthogonal {@code Q} (hidden × hidden): every norm's gain
 *     is first folded into the linears that read it (q/k/v, gate/up, lm_head), so the norms become
 *     plain RMS normalisations, which commute with a rotation; then readers become {@code W·Q}, the
 *     writers (o_proj, down_proj) {@code Qᵀ·W} (bias {@code b·Q}), and the embedding (and a learned
 *     position table) {@code E·Q};</li>
 * <li>each attention head's values are rotated by {@code H} (head_dim²): v_proj's rows per KV head
 *     {@code Hᵀ·W}, o_proj's columns per head {@code W·H}; grouped heads share H, so it cancels.</li>
 * </ul>
 * Both are seeded randomized Hadamard matrices ({@link Orthogonal}). The checkpoint written after
 * stays a plain float-equivalent model (norm gains 1) any loader runs.
 */
public final class ResidualRotation {

    private ResidualRotation() {
    }

    /**
     * Rotates {@code model} in place.
     *
     * @throws FmsmoException {@link ErrorCode#UNSUPPORTED_SPEC} for a model whose structure the
     *         rotation does not cancel in: post- or sandwich norms, LayerNorm, a mixture of experts,
     *         an encoder, or a head tied to the embedding
     */
    public static void apply(TransformerForCausalLM model, long seed) {
        apply(model, seed, false);
    }

    /**
     * Rotates {@code model} in place; with {@code online}, also each MLP's output projection's
     * input (QuaRot's online Hadamard before down_proj): its weight becomes {@code W·R} and the
     * layer multiplies its input by {@code R} at run time ({@link Linear#setInputRotation}), so the
     * activation it quantizes is spread. The model then needs a format that holds the run-time
     * rotation ({@code fms}).
     */
    public static void apply(TransformerForCausalLM model, long seed, boolean online) {
        TransformerSpec s = model.spec();
        String why = whyNot(model, s);
        if (why != null) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "rotation: " + model.architecture() + " cannot be rotated: " + why);
        }
        NDManager m = model.manager();
        int hidden = s.hiddenSize();
        NDArray q = m.create(Orthogonal.randomizedHadamard(hidden, seed), new Shape(hidden, hidden));
        NDArray head = m.create(Orthogonal.randomizedHadamard(s.headDim(), seed + 1), new Shape(s.headDim(), s.headDim()));
        try {
            assign(model.embeddingTable(), model.embeddingTable().matMul(q));
            if (model.positionTable() != null) {
                assign(model.positionTable(), model.positionTable().matMul(q));
            }
            for (TransformerBlock b : model.transformerBlocks()) {
                readers(model, b.inputNorm(), b.attention().inputLinears(), q);
                writer(model, b.attention().outputLinear(), q);
                readers(model, b.postAttentionNorm(), b.mlp().inputLinears(), q);
                writer(model, b.mlp().outputLinear(), q);
                if (b.attention().valueLinear() != null) {
                    rotateHeads(linear(model, b.attention().valueLinear()), linear(model, b.attention().outputLinear()), s, head);
                }
                if (online) {
                    Linear down = linear(model, b.mlp().outputLinear());
                    int n = Math.toIntExact(down.inFeatures());
                    NDArray r = m.create(Orthogonal.randomizedHadamard(n, seed + 2), new Shape(n, n));
                    assign(down.weight(), down.weight().matMul(r));
                    down.setInputRotation(r); // the model's manager keeps it
                }
            }
            readers(model, model.finalNorm(), List.of(model.headLinear()), q);
        } finally {
            q.close();
            head.close();
        }
    }

    /** Why the rotation would not cancel in this model, or null when it does. */
    private static String whyNot(TransformerForCausalLM model, TransformerSpec s) {
        if (s.layout() != TransformerSpec.Layout.PRE_NORM) {
            return "its norms are not pre-norms only (" + s.layout() + ")";
        }
        if (s.norm() != TransformerSpec.Norm.RMS && s.norm() != TransformerSpec.Norm.RMS_UNIT_OFFSET) {
            return "its norm is " + s.norm() + ", not RMS (a mean subtraction does not commute with a rotation)";
        }
        if (s.moe() != null) {
            return "it has a mixture of experts";
        }
        if (s.tieWordEmbeddings() && model.tiedHead()) {
            return "its head is tied to the embedding (the final norm's gain cannot be folded into one and not the other)";
        }
        return null;
    }

    /** Folds the norm's gain into the linears that read it ({@code W·diag(g)}), sets it to 1, then {@code W ← W·Q}. */
    private static void readers(TransformerForCausalLM model, Normalization norm, List<String> layers, NDArray q) {
        RmsNorm rms = (RmsNorm) norm;
        NDArray gain = rms.gain();
        for (String name : layers) {
            Linear l = linear(model, name);
            assign(l.weight(), l.weight().mul(gain).matMul(q));
        }
        gain.close();
        rms.setUnitGain();
    }

    /** {@code W ← Qᵀ·W}, {@code b ← b·Q}: the layer writes the rotated residual. */
    private static void writer(TransformerForCausalLM model, String name, NDArray q) {
        Linear l = linear(model, name);
        assign(l.weight(), q.transpose().matMul(l.weight()));
        l.bias().ifPresent(b -> assign(b, b.matMul(q)));
    }

    /** v_proj's rows of each KV head {@code ← Hᵀ·W_h} (bias {@code b_h·H}); o_proj's columns of each head {@code ← W_h·H}. */
    private static void rotateHeads(Linear v, Linear o, TransformerSpec s, NDArray h) {
        int d = s.headDim();
        long in = v.inFeatures();
        NDArray wv = v.weight().reshape(s.numKvHeads(), d, in);
        assign(v.weight(), h.transpose().matMul(wv).reshape(v.outFeatures(), in));
        v.bias().ifPresent(b -> assign(b, b.reshape(s.numKvHeads(), d).matMul(h).reshape(-1)));
        NDArray wo = o.weight().reshape(o.outFeatures(), s.numHeads(), d);
        assign(o.weight(), wo.matMul(h).reshape(o.outFeatures(), o.inFeatures()));
    }

    private static Linear linear(TransformerForCausalLM model, String name) {
        LinearLayer l = model.linear(name);
        if (!(l instanceof Linear plain)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "rotation: layer " + name + " is already wrapped; rotate before quantizing");
        }
        return plain;
    }

    /** Overwrites {@code target} with {@code value} in place (the module keeps its array) and frees {@code value}. */
    private static void assign(NDArray target, NDArray value) {
        target.subi(target).addi(value);
        value.close();
    }
}
