package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import org.fmsmo.api.quant.Scalars;

/** Root-mean-square normalisation over the last axis, then a per-feature gain (Llama's norm). */
public final class RmsNorm extends Module implements Normalization {

    private final NDArray weight;
    private final float eps;

    /** The gain, which SmoothQuant may rescale in place. */
    public NDArray weight() {
        return weight;
    }

    private final boolean unitOffset;

    public RmsNorm(NDArray weight, double eps) {
        this(weight, eps, false);
    }

    /**
     * @param unitOffset the gain is {@code 1 + weight} (Gemma stores the offset from one)
     */
    public RmsNorm(NDArray weight, double eps, boolean unitOffset) {
        this.weight = addParameter("weight", weight);
        this.eps = (float) eps;
        this.unitOffset = unitOffset;
    }

    /** {@code x · rsqrt(mean(x²) + ε) · g}, computed in FLOAT32 as HF does. */
    public NDArray forward(NDArray x) {
        NDArray ms = x.square().mean(new int[] {-1}, true);
        NDArray gain = unitOffset ? weight.add(1f) : weight;
        return Trace.call("norm", path(), x.mul(Scalars.pow(ms.add(eps).sqrt(), -1f)).mul(gain), x);
    }

    /** Divides the gain by {@code s} in place (SmoothQuant's fold): {@code g/s}, or {@code (1 + w)/s − 1} for a unit-offset gain. */
    public void divideGain(NDArray s) {
        if (unitOffset) {
            weight.addi(1f).divi(s).subi(1f);
        } else {
            weight.divi(s);
        }
    }

    /** The effective gain as a new array: the weight, or {@code 1 + weight} for a unit-offset norm. */
    public NDArray gain() {
        return unitOffset ? weight.add(1f) : weight.duplicate();
    }

    /** Sets the effective gain to 1 in place (a rotation has folded it into the layers that read the norm). */
    public void setUnitGain() {
        weight.subi(weight);
        if (!unitOffset) {
            weight.addi(1f);
        }
    }
}
