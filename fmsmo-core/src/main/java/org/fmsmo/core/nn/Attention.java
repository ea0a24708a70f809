package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.quant.Scalars;

/** The attention arithmetic shared by the architectures: masks and scaled dot-product attention. */
public final class Attention {

    private Attention() {
    }

    /**
     * {@code softmax(q·kᵀ·scale + mask)·v}, with grouped-query attention: when {@code k} and
     * {@code v} have fewer heads than {@code q}, KV head {@code j} serves query heads
     * {@code j·g … j·g+g−1} (HF's {@code repeat_kv}).
     *
     * @param q    {@code [B, H, T, D]}
     * @param k    {@code [B, Hkv, S, D]}
     * @param v    {@code [B, Hkv, S, D]}
     * @param mask additive, broadcastable to {@code [B, H, T, S]}, or null
     * @param qk   computes {@code q·kᵀ} ({@code bmm1})
     * @param av   computes {@code softmax(…)·v} ({@code bmm2})
     * @return {@code [B, H, T, D]}
     */
    public static NDArray scaledDotProduct(NDArray q, NDArray k, NDArray v, NDArray mask, float scale, Bmm qk, Bmm av) {
        return scaledDotProduct(q, k, v, mask, scale, 0, qk, av);
    }

    /**
     * As above, with Gemma 2's soft cap: the scaled scores become {@code c·tanh(s/c)} before the
     * mask is added ({@code softcap} 0: none).
     */
    public static NDArray scaledDotProduct(NDArray q, NDArray k, NDArray v, NDArray mask, float scale, float softcap, Bmm qk, Bmm av) {
        long groups = q.getShape().get(1) / k.getShape().get(1);
        if (groups > 1) {
            k = k.repeat(1, groups);
            v = v.repeat(1, groups);
        }
        NDArray kt = k.transpose(0, 1, 3, 2);
        // The [B, H, T, S] arrays are the largest of a forward pass (0.27 GB each at 8B shapes and
        // 8×512 tokens): each is freed once the next exists, so two are alive at a time, not four.
        NDArray scores = Scopes.step(() -> Scalars.mul(Trace.call("bmm", qk.name(), qk.apply(q, kt), q, kt), scale));
        if (softcap > 0) {
            NDArray raw = scores;
            scores = Scopes.step(() -> Scalars.mul(Scalars.div(raw, softcap).tanh(), softcap));
            raw.close();
        }
        if (mask != null) {
            scores = scores.addi(mask);
        }
        NDArray p = scores.softmax(-1);
        scores.close();
        NDArray out = Trace.call("bmm", av.name(), av.apply(p, v), p, v);
        p.close();
        return out;
    }

    /** {@code [T, T]}: 0 on and below the diagonal, −∞ above it (a token sees itself and the past). */
    public static NDArray causalMask(NDManager manager, int t) {
        float[] m = new float[t * t];
        for (int i = 0; i < t; i++) {
            for (int j = i + 1; j < t; j++) {
                m[i * t + j] = Float.NEGATIVE_INFINITY;
            }
        }
        return manager.create(m, new Shape(t, t));
    }

    /**
     * {@code [T, T]}: the causal mask, also hiding keys {@code window} or more positions back — a
     * query at {@code i} sees {@code i−window < j ≤ i} (HF's {@code sliding_window_overlay}).
     */
    public static NDArray slidingWindowMask(NDManager manager, int t, int window) {
        float[] m = new float[t * t];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < t; j++) {
                if (j > i || j <= i - window) {
                    m[i * t + j] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        return manager.create(m, new Shape(t, t));
    }

    /**
     * {@code [T, T]}: 0 where {@code |i − j| ≤ window}, the most negative float elsewhere (an
     * encoder's local attention, HF's {@code sliding_window_bidirectional_overlay}); combine it
     * with a padding mask by {@code minimum}, which cannot overflow as a sum would.
     */
    public static NDArray bidirectionalWindowMask(NDManager manager, int t, int window) {
        float[] m = new float[t * t];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < t; j++) {
                if (Math.abs(i - j) > window) {
                    m[i * t + j] = -Float.MAX_VALUE;
                }
            }
        }
        return manager.create(m, new Shape(t, t));
    }

    /**
     * {@code [B, 1, 1, S]} from a 0/1 padding mask {@code [B, S]}: 0 where attended, the most
     * negative float where padded (as HF does, so a fully padded row stays finite).
     */
    public static NDArray paddingMask(NDArray attentionMask) {
        long b = attentionMask.getShape().get(0);
        long s = attentionMask.getShape().get(1);
        NDArray keep = attentionMask.toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
        return keep.neg().add(1f).mul(-Float.MAX_VALUE).reshape(b, 1, 1, s);
    }
}
