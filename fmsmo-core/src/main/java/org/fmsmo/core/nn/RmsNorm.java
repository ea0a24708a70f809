package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import org.fmsmo.api.quant.Scalars;

/** Root-mean-square normalisation over the last axis, then a per-feature gain (Llama's norm). */
public final class RmsNorm extends Module {

    private final NDArray weight;
    private final float eps;

    /** The gain, which SmoothQuant may rescale in place. */
    public NDArray weight() {
        return weight;
    }

    public RmsNorm(NDArray weight, double eps) {
        this.weight = addParameter("weight", weight);
        this.eps = (float) eps;
    }

    /** {@code x · rsqrt(mean(x²) + ε) · g}, computed in FLOAT32 as HF does. */
    public NDArray forward(NDArray x) {
        NDArray ms = x.square().mean(new int[] {-1}, true);
        return Trace.call("norm", path(), x.mul(Scalars.pow(ms.add(eps).sqrt(), -1f)).mul(weight), x);
    }
}
