package org.fmsmo.plugin.qat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter 2019) over groups of parameters with their own learning rate and
 * decoupled weight decay: {@code m ← β₁m + (1−β₁)g}, {@code v ← β₂v + (1−β₂)g²},
 * {@code p ← p − lr·(m̂ / (√v̂ + ε) + wd·p)} with the bias-corrected {@code m̂ = m/(1−β₁ᵗ)},
 * {@code v̂ = v/(1−β₂ᵗ)}. The moments live in a manager of their own; parameters are updated in
 * place through their detached view (the autograd leaf itself must not be written in place).
 */
final class AdamW implements AutoCloseable {

    /** Parameters sharing a learning rate and a weight decay. */
    record Group(String name, List<NDArray> params, double lr, double weightDecay) {
    }

    private final List<Group> groups;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final NDManager state;
    private final Map<NDArray, NDArray[]> moments = new IdentityHashMap<>();
    private long t;

    AdamW(List<Group> groups, double beta1, double beta2, double eps, NDManager parent) {
        this.groups = List.copyOf(groups);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.state = parent.newSubManager();
        for (Group g : groups) {
            for (NDArray p : g.params()) {
                NDArray m = state.zeros(p.getShape(), p.getDataType());
                NDArray v = state.zeros(p.getShape(), p.getDataType());
                moments.put(p, new NDArray[] {m, v});
            }
        }
    }

    List<Group> groups() {
        return groups;
    }

    /** Steps taken so far. */
    long steps() {
        return t;
    }

    /**
     * One update.
     *
     * @param grads   each parameter's gradient for this step (already averaged and clipped)
     * @param lrScale the schedule's factor on every group's learning rate
     */
    void step(Map<NDArray, NDArray> grads, double lrScale) {
        t++;
        float c1 = (float) (1 - Math.pow(beta1, t));
        float c2 = (float) (1 - Math.pow(beta2, t));
        for (Group g : groups) {
            float lr = (float) (g.lr() * lrScale);
            for (NDArray p : g.params()) {
                NDArray grad = grads.get(p);
                if (grad == null) {
                    continue; // no gradient reached it this step (e.g. a clip no value exceeded)
                }
                NDArray[] mv = moments.get(p);
                mv[0].muli((float) beta1).addi(grad.mul((float) (1 - beta1)));
                mv[1].muli((float) beta2).addi(grad.square().muli((float) (1 - beta2)));
                NDArray update = mv[0].div(c1).divi(mv[1].div(c2).sqrt().addi((float) eps));
                NDArray target = p.stopGradient();
                if (g.weightDecay() > 0) {
                    update.addi(target.mul((float) g.weightDecay()));
                }
                target.subi(update.muli(lr));
                update.close();
            }
        }
    }

    /** The moments and the step count, by name ({@code <group>.<index>.m|v}, {@code step}), for a checkpoint. */
    Map<String, NDArray> state() {
        Map<String, NDArray> out = new java.util.LinkedHashMap<>();
        for (Group g : groups) {
            for (int i = 0; i < g.params().size(); i++) {
                NDArray[] mv = moments.get(g.params().get(i));
                out.put(g.name() + "." + i + ".m", mv[0]);
                out.put(g.name() + "." + i + ".v", mv[1]);
            }
        }
        out.put("step", state.create(new float[] {t}));
        return out;
    }

    /** Restores what {@link #state()} gave, checking that the parameters are the same. */
    void load(Map<String, float[]> saved) {
        for (Group g : groups) {
            for (int i = 0; i < g.params().size(); i++) {
                NDArray p = g.params().get(i);
                NDArray[] mv = moments.get(p);
                for (int k = 0; k < 2; k++) {
                    String name = g.name() + "." + i + (k == 0 ? ".m" : ".v");
                    float[] v = saved.get(name);
                    if (v == null || v.length != p.size()) {
                        throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.CORRUPT_INPUT, "the checkpoint's optimizer state "
                                + name + " is " + (v == null ? "missing" : "of " + v.length + " values") + "; expected " + p.size()
                                + " (was it written for this model and recipe?)");
                    }
                    mv[k].set(java.nio.FloatBuffer.wrap(v));
                }
            }
        }
        float[] step = saved.get("step");
        t = step == null ? 0 : (long) step[0];
    }

    @Override
    public void close() {
        state.close();
    }
}
