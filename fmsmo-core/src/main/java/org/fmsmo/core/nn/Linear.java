package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import java.util.Objects;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;

/** {@code y = x·Wᵀ + b} with a FLOAT32 weight {@code [out, in]} and optional bias {@code [out]}. */
public final class Linear implements LinearLayer {

    private final String name;
    private final long[] shape;
    private NDArray weight;
    private final NDArray bias;
    private NDArray inputDivisor;
    private NDArray inputRotation;

    /**
     * @param name   module path
     * @param weight {@code [out, in]}; owned by the model's manager
     * @param bias   {@code [out]} or null
     */
    public Linear(String name, NDArray weight, NDArray bias) {
        this.name = Objects.requireNonNull(name, "name");
        this.weight = Objects.requireNonNull(weight, "weight");
        if (weight.getShape().dimension() != 2) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + name + ": weight must be [out, in], found " + weight.getShape());
        }
        if (bias != null && !bias.getShape().equals(new ai.djl.ndarray.types.Shape(weight.getShape().get(0)))) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + name + ": bias must be [" + weight.getShape().get(0)
                    + "], found " + bias.getShape());
        }
        this.bias = bias;
        this.shape = weight.getShape().getShape();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long inFeatures() {
        return shape[1];
    }

    @Override
    public long outFeatures() {
        return shape[0];
    }

    /** @throws IllegalStateException after {@link #releaseWeight()} */
    @Override
    public NDArray weight() {
        if (weight == null) {
            throw new IllegalStateException("layer " + name + ": its float weight was released once the layer was frozen");
        }
        return weight;
    }

    /**
     * Frees the float weight now, for a layer whose quantized value has replaced it for good (a
     * streamed run's frozen layers: at 8B shapes the six frozen before {@code down_proj} hold
     * 0.64 GB). Shapes stay known; {@link #weight()} and {@link #forward} fail from here on.
     */
    public void releaseWeight() {
        if (weight != null) {
            weight.close();
            weight = null;
        }
    }

    /**
     * Divides output channel {@code j} by {@code s[j]}: the weight's rows (when still held) and the
     * bias. The layer then computes {@code y / s}: how a per-channel scale of the next layer's input
     * is folded into the layer that produces it (AWQ, SmoothQuant).
     *
     * @param s {@code [out]}, positive
     */
    public void divideOutputs(NDArray s) {
        if (weight != null) {
            weight.divi(s.reshape(-1, 1));
        }
        if (bias != null) {
            bias.divi(s);
        }
    }

    @Override
    public Optional<NDArray> bias() {
        return Optional.ofNullable(bias);
    }

    /**
     * SmoothQuant without a norm to fold into: the input is divided by {@code s} per channel at
     * run time (the weight's columns have been multiplied by it).
     *
     * @param s {@code [in]}, positive; owned by the model's manager; null to remove
     */
    public void setInputDivisor(NDArray s) {
        this.inputDivisor = s;
    }

    /** The per-channel input divisor, if SmoothQuant set one. */
    public Optional<NDArray> inputDivisor() {
        return Optional.ofNullable(inputDivisor);
    }

    /**
     * QuaRot's online rotation: the input is multiplied by the orthogonal {@code r} at run time,
     * {@code x·r} (the weight has been multiplied by it too, {@code W·r}, so the float layer
     * computes the same), which spreads outlier channels before the input is quantized.
     *
     * @param r {@code [in, in]}, orthogonal; owned by the model's manager; null to remove
     */
    public void setInputRotation(NDArray r) {
        this.inputRotation = r;
    }

    /** The online input rotation, if one is set. */
    public Optional<NDArray> inputRotation() {
        return Optional.ofNullable(inputRotation);
    }

    /**
     * What the layer does to its input at run time before its weight (a SmoothQuant divisor, an
     * online rotation), for messages of formats that cannot hold it; null when nothing.
     */
    public String runTimeInputTransform() {
        if (inputDivisor != null) {
            return "divides its input by a SmoothQuant scale at run time";
        }
        return inputRotation != null ? "rotates its input by an online Hadamard matrix at run time" : null;
    }

    /** {@code x}, divided by the input divisor and multiplied by the input rotation, when there are. */
    public NDArray prepareInput(NDArray x) {
        NDArray in = inputDivisor == null ? x : x.div(inputDivisor);
        return inputRotation == null ? in : in.matMul(inputRotation);
    }

    @Override
    public NDArray forward(NDArray x) {
        NDArray y = prepareInput(x).matMul(weight().transpose());
        return bias == null ? y : y.addi(bias);
    }
}
