package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.ModelConfig;
import org.fmsmo.api.arch.RopeParameters;

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
     * @param invFreq the inverse frequencies, after any scaling: {@code headDim/2}, or fewer for partial rotation
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

    /**
     * Rotates {@code x} of shape {@code [B, heads, T, headDim]} for positions {@code 0..T-1}. With
     * partial rotation (fewer frequencies than {@code headDim/2}) only the leading dimensions turn
     * and the rest pass through, as Phi-3 and GPT-NeoX do.
     */
    public NDArray apply(NDArray x) {
        long t = x.getShape().get(2);
        if (t > maxPositions) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "sequence of " + t + " tokens is longer than the model's "
                    + maxPositions + " positions (max_position_embeddings); use a shorter --seq-len");
        }
        long dim = cos.getShape().get(1);
        long headDim = x.getShape().get(3);
        NDArray rot = dim == headDim ? x : x.get(new NDIndex("..., 0:{}", dim));
        long half = dim / 2;
        NDArray c = cos.get(new NDIndex("0:{}", t));
        NDArray s = sin.get(new NDIndex("0:{}", t));
        NDArray x1 = rot.get(new NDIndex("..., 0:{}", half));
        NDArray x2 = rot.get(new NDIndex("..., {}:", half));
        NDArray rotated = x2.neg().concat(x1, -1);
        NDArray out = rot.mul(c).add(rotated.mul(s));
        return dim == headDim ? out : out.concat(x.get(new NDIndex("..., {}:", dim)), -1);
    }

    /**
     * The inverse frequencies of a config's rotary parameters ({@link RopeParameters#inverseFrequencies}),
     * after checking them against the config that gave them.
     *
     * @throws FmsmoException {@link ErrorCode#UNSUPPORTED_SPEC} naming the key for a scaling type not implemented here,
     *         or naming the key of a number out of range
     */
    public static float[] inverseFrequencies(RopeParameters p, int headDim, ModelConfig config) {
        int dim = (int) (headDim * p.partialRotaryFactor());
        if (dim < 2 || dim % 2 != 0) {
            throw config.invalid("partial_rotary_factor", "must leave an even number of rotating dimensions of head_dim " + headDim
                    + ", found " + dim);
        }
        switch (p.type()) {
            case "default" -> {
                // nothing to check
            }
            case "linear" -> scaling(p, config, "factor", Double.NaN);
            case "llama3" -> {
                scaling(p, config, "factor", Double.NaN);
                double low = scaling(p, config, "low_freq_factor", 1.0);
                double high = scaling(p, config, "high_freq_factor", 4.0);
                scaling(p, config, "original_max_position_embeddings", 8192);
                if (!(high > low)) {
                    throw config.invalid(ropeKey(config), "high_freq_factor (" + high + ") must exceed low_freq_factor (" + low + ")");
                }
            }
            default -> throw config.unsupported(ropeKey(config), "rope_type '" + p.type()
                    + "' is not supported; supported: default, linear, llama3");
        }
        return p.inverseFrequencies(headDim);
    }

    /** The key the config gave its rotary parameters under: transformers 5's, or 4's. */
    private static String ropeKey(ModelConfig config) {
        return config.present("rope_parameters") ? "rope_parameters" : "rope_scaling";
    }

    /** A positive number of the scaling ({@code fallback} when absent; NaN: required). */
    private static double scaling(RopeParameters p, ModelConfig config, String key, double fallback) {
        double v = p.scaling().getOrDefault(key, fallback);
        if (!(v > 0 && v < Double.POSITIVE_INFINITY)) {
            throw config.invalid(ropeKey(config), key + " must be a positive number for rope_type '" + p.type() + "', found "
                    + (p.scaling().containsKey(key) ? v : "nothing"));
        }
        return v;
    }
}
