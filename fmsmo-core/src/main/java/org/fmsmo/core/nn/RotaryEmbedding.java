package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * Rotary position embedding in Hugging Face's rotate-half layout: the head dimension is split
 * into halves {@code (x₁, x₂)} rotated as {@code (x₁cos − x₂sin, x₂cos + x₁sin)}, with frequency
 * {@code θ^(−2i/d)} for pair {@code i}. The cos/sin tables are built once for every position up
 * to the model's maximum, in double precision and then rounded, as HF's float32 tables are.
 */
public final class RotaryEmbedding {

    private final NDArray cos;
    private final NDArray sin;
    private final int maxPositions;

    /**
     * @param invFreq the {@code headDim/2} inverse frequencies, after any scaling
     */
    public RotaryEmbedding(NDManager manager, float[] invFreq, int maxPositions) {
        int half = invFreq.length;
        int dim = 2 * half;
        float[] c = new float[maxPositions * dim];
        float[] s = new float[maxPositions * dim];
        for (int p = 0; p < maxPositions; p++) {
            for (int i = 0; i < half; i++) {
                // HF multiplies float32 position by float32 frequency, then takes cos/sin in float32.
                float angle = (float) p * invFreq[i];
                float cv = (float) Math.cos(angle);
                float sv = (float) Math.sin(angle);
                c[p * dim + i] = cv;
                c[p * dim + half + i] = cv;
                s[p * dim + i] = sv;
                s[p * dim + half + i] = sv;
            }
        }
        this.cos = manager.create(c, new Shape(maxPositions, dim));
        this.sin = manager.create(s, new Shape(maxPositions, dim));
        this.maxPositions = maxPositions;
    }

    /** HF's default frequencies {@code 1 / θ^(2i/d)}, computed in float32 like {@code torch.arange(...).float()}. */
    public static float[] defaultInverseFrequencies(int headDim, double theta) {
        float[] f = new float[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (1.0 / Math.pow(theta, (float) (2 * i) / headDim));
        }
        return f;
    }

    /**
     * Rotates {@code x} of shape {@code [B, heads, T, headDim]} for positions {@code 0..T-1}.
     */
    public NDArray apply(NDArray x) {
        long t = x.getShape().get(2);
        if (t > maxPositions) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "sequence of " + t + " tokens is longer than the model's "
                    + maxPositions + " positions (max_position_embeddings); use a shorter --seq-len");
        }
        long half = x.getShape().get(3) / 2;
        NDArray c = cos.get(new NDIndex("0:{}", t));
        NDArray s = sin.get(new NDIndex("0:{}", t));
        NDArray x1 = x.get(new NDIndex("..., 0:{}", half));
        NDArray x2 = x.get(new NDIndex("..., {}:", half));
        NDArray rotated = x2.neg().concat(x1, -1);
        return x.mul(c).add(rotated.mul(s));
    }
}
