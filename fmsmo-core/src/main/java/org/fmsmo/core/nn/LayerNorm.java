package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** Layer normalisation over the last axis with gain and bias (BERT's norm). */
public final class LayerNorm extends Module implements Normalization {

    private final NDArray weight;
    private final NDArray bias;
    private final float eps;

    /** The gain, which SmoothQuant may rescale in place. */
    public NDArray weight() {
        return weight;
    }

    /** The bias, rescaled together with the gain; null when the norm has none. */
    public NDArray bias() {
        return bias;
    }

    /** @param bias null for a norm without one (ModernBERT's) */
    public LayerNorm(NDArray weight, NDArray bias, double eps) {
        this.weight = addParameter("weight", weight);
        this.bias = bias == null ? null : addParameter("bias", bias);
        this.eps = (float) eps;
    }

    @Override
    public NDArray forward(NDArray x) {
        Shape normalized = new Shape(x.getShape().get(x.getShape().dimension() - 1));
        NDArray b = bias != null ? bias : weight.zerosLike();
        return Trace.call("norm", path(), x.getNDArrayInternal().layerNorm(x, normalized, weight, b, eps).singletonOrThrow(), x);
    }
}
