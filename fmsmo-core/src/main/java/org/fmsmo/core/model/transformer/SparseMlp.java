package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.ModuleList;
import org.fmsmo.core.nn.Scopes;
import org.fmsmo.core.nn.Trace;
import org.fmsmo.core.nn.Weights;

/**
 * A sparse mixture of experts (Mixtral, Qwen 3 MoE): a softmax router picks each token's
 * {@code topK} experts, whose outputs are summed weighted by the (optionally renormalised)
 * probabilities.
 *
 * <p>Every expert runs on every token and the ones not chosen are weighted zero. The output is
 * the sparse one exactly, and every expert sees every calibration token: an expert the router
 * rarely picks is still calibrated, on real activations, so no expert is left with an empty
 * Hessian or a NaN scale (llm-compressor's "calibrate all experts"). The price is
 * {@code numExperts / topK} times the MLP's compute, in calibration and evaluation alike.
 */
final class SparseMlp extends Module {

    private final TransformerSpec.Moe moe;
    private final Router router;
    private final List<FeedForward> experts;

    /** The router's weight {@code [experts, hidden]}: a parameter kept in float, not a quantizable linear (vLLM's choice). */
    static final class Router extends Module {
        private final NDArray weight;

        Router(NDArray weight) {
            this.weight = addParameter("weight", weight);
        }
    }

    SparseMlp(TransformerSpec s, Weights w, String prefix) {
        this.moe = s.moe();
        TransformerSpec.Names n = s.names();
        String routerName = n.of(Part.ROUTER);
        this.router = addModule(routerName, new Router(w.take(prefix + "." + routerName + ".weight", moe.numExperts(), s.hiddenSize())));
        List<FeedForward> list = new ArrayList<>();
        String expertsName = n.of(Part.EXPERTS);
        for (int e = 0; e < moe.numExperts(); e++) {
            list.add(FeedForward.expert(s, w, prefix + "." + expertsName + "." + e));
        }
        this.experts = addModule(expertsName, new ModuleList<>(list)).items();
    }

    NDArray forward(NDArray x) {
        Shape shape = x.getShape();
        long hidden = shape.get(shape.dimension() - 1);
        NDArray flat = x.reshape(-1, hidden);
        int tokens = Math.toIntExact(flat.getShape().get(0));
        NDArray logits = Trace.call("router", router.path(), flat.matMul(router.weight.transpose()), x);
        NDArray gates = routing(logits.toFloatArray(), tokens, x.getManager());
        logits.close();
        NDArray out = null;
        for (int e = 0; e < experts.size(); e++) {
            FeedForward expert = experts.get(e);
            NDArray sum = out;
            int col = e;
            out = Scopes.step(() -> {
                NDArray y = expert.forward(flat).mul(gates.get(new NDIndex(":, {}:{}", col, col + 1)));
                return sum == null ? y : sum.add(y);
            });
            if (sum != null) {
                sum.close();
            }
        }
        gates.close();
        return out.reshape(shape);
    }

    /**
     * {@code [tokens, experts]}: each token's chosen experts' probabilities (softmax over all,
     * in float as HF computes it), renormalised to one when the architecture says so; zeros elsewhere.
     */
    private NDArray routing(float[] logits, int tokens, NDManager manager) {
        int n = moe.numExperts();
        float[] gates = new float[tokens * n];
        double[] p = new double[n];
        boolean[] chosen = new boolean[n];
        for (int t = 0; t < tokens; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int e = 0; e < n; e++) {
                max = Math.max(max, logits[t * n + e]);
            }
            double total = 0;
            for (int e = 0; e < n; e++) {
                p[e] = Math.exp(logits[t * n + e] - max);
                total += p[e];
            }
            java.util.Arrays.fill(chosen, false);
            double kept = 0;
            for (int k = 0; k < moe.topK(); k++) {
                int best = -1;
                for (int e = 0; e < n; e++) {
                    if (!chosen[e] && (best < 0 || p[e] > p[best])) {
                        best = e;
                    }
                }
                chosen[best] = true;
                kept += p[best] / total;
            }
            for (int e = 0; e < n; e++) {
                if (chosen[e]) {
                    double prob = p[e] / total;
                    gates[t * n + e] = (float) (moe.normalizeTopK() ? prob / kept : prob);
                }
            }
        }
        return manager.create(gates, new Shape(tokens, n));
    }
}
