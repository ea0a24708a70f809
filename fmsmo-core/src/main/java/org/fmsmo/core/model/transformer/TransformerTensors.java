package org.fmsmo.core.model.transformer;

import java.util.ArrayList;
import java.util.List;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;

/**
 * The tensors a checkpoint of a {@link TransformerSpec} holds, by name and shape, in the order the
 * host reads them: what a synthetic checkpoint of an architecture must contain. The loader is
 * the check on this list (a name it reads that is missing here fails the conformance kit).
 */
public final class TransformerTensors {

    /** A stored tensor; {@code gain} marks a norm's weight (ones, or zeros for a unit-offset norm). */
    public record Tensor(String name, long[] shape, boolean gain) {
    }

    private TransformerTensors() {
    }

    /** The base-model prefix a checkpoint of {@code s} may have or lack before every name ({@link Part#BASE_MODEL}). */
    public static List<String> basePrefixes(TransformerSpec s) {
        return List.of(s.names().of(Part.BASE_MODEL) + ".");
    }

    public static List<Tensor> of(TransformerSpec s) {
        TransformerSpec.Names n = s.names();
        long h = s.hiddenSize();
        long qDim = (long) s.numHeads() * s.headDim();
        long kvDim = (long) s.numKvHeads() * s.headDim();
        List<Tensor> t = new ArrayList<>();
        t.add(new Tensor(n.of(Part.EMBEDDING) + ".weight", new long[] {s.vocabSize(), h}, false));
        if (s.encoder() != null && s.encoder().embeddingNorm()) {
            norm(t, s, n.of(Part.EMBEDDING_NORM), h);
        }
        if (s.positions() == TransformerSpec.Positions.LEARNED) {
            t.add(new Tensor(n.of(Part.POSITION_EMBEDDING) + ".weight", new long[] {s.maxPositions(), h}, false));
        }
        for (int i = 0; i < s.numLayers(); i++) {
            String layer = n.of(Part.LAYERS) + "." + i + ".";
            String attn = layer + n.of(Part.ATTENTION) + ".";
            boolean bias = s.attention().qkvBias();
            if (s.fusedQkv()) {
                linear(t, s, attn + n.of(Part.QKV), h, qDim + 2 * kvDim, bias);
            } else {
                linear(t, s, attn + n.of(Part.Q), h, qDim, bias);
                linear(t, s, attn + n.of(Part.K), h, kvDim, bias);
                linear(t, s, attn + n.of(Part.V), h, kvDim, bias);
            }
            linear(t, s, attn + n.of(Part.O), qDim, h, s.attention().outputBias());
            if (s.attention().qkNorm()) {
                norm(t, s, attn + n.of(Part.Q_NORM), s.headDim());
                norm(t, s, attn + n.of(Part.K_NORM), s.headDim());
            }
            if (s.layers().get(i).sparse()) {
                String moe = layer + n.of(Part.SPARSE_MLP) + ".";
                t.add(new Tensor(moe + n.of(Part.ROUTER) + ".weight", new long[] {s.moe().numExperts(), h}, false));
                for (int e = 0; e < s.moe().numExperts(); e++) {
                    String x = moe + n.of(Part.EXPERTS) + "." + e + ".";
                    long w = s.moe().intermediateSize();
                    linear(t, s, x + n.of(Part.EXPERT_GATE), h, w, false);
                    linear(t, s, x + n.of(Part.EXPERT_UP), h, w, false);
                    linear(t, s, x + n.of(Part.EXPERT_DOWN), w, h, false);
                }
            } else {
                String mlp = layer + n.of(Part.MLP) + ".";
                long w = s.intermediateSize();
                if (s.fusedGateUp()) {
                    linear(t, s, mlp + n.of(Part.GATE_UP), h, 2 * w, s.mlpBias());
                } else {
                    if (s.gatedMlp()) {
                        linear(t, s, mlp + n.of(Part.GATE), h, w, s.mlpBias());
                    }
                    linear(t, s, mlp + n.of(Part.UP), h, w, s.mlpBias());
                }
                linear(t, s, mlp + n.of(Part.DOWN), w, h, s.mlpBias());
            }
            List<Part> norms = s.layout() == TransformerSpec.Layout.SANDWICH
                    ? List.of(Part.INPUT_NORM, Part.POST_ATTENTION_NORM, Part.PRE_FEEDFORWARD_NORM, Part.POST_FEEDFORWARD_NORM)
                    : List.of(Part.INPUT_NORM, Part.POST_ATTENTION_NORM);
            for (Part p : norms) {
                if (p != Part.INPUT_NORM || TransformerBlock.hasInputNorm(s, i)) {
                    norm(t, s, layer + n.of(p), h);
                }
            }
        }
        norm(t, s, n.of(Part.FINAL_NORM), h);
        if (!s.tieWordEmbeddings() && s.encoder() == null) {
            t.add(new Tensor(n.of(Part.LM_HEAD) + ".weight", new long[] {s.vocabSize(), h}, false));
        }
        return t;
    }

    private static void norm(List<Tensor> t, TransformerSpec s, String name, long width) {
        t.add(new Tensor(name + ".weight", new long[] {width}, true));
        if (s.norm() == TransformerSpec.Norm.LAYER_NORM) {
            t.add(new Tensor(name + ".bias", new long[] {width}, false));
        }
    }

    private static void linear(List<Tensor> t, TransformerSpec s, String name, long in, long out, boolean bias) {
        t.add(new Tensor(name + ".weight", s.transposedWeights() ? new long[] {in, out} : new long[] {out, in}, false));
        if (bias) {
            t.add(new Tensor(name + ".bias", new long[] {out}, false));
        }
    }
}
