package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import java.util.Objects;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.nn.Linear;

/**
 * A linear layer with simulated quantization: {@code y = Q_in(x / s)·Q_w(W·s)ᵀ + b}, computed in
 * float, where {@code s} is a SmoothQuant scale the wrapped {@link Linear} holds when it could
 * not be folded into a norm (its weight already carries the {@code ·s}). Before {@link #freeze()}
 * the weight is fake-quantized on every call (so learned or calibrated ranges take effect);
 * after it, the frozen codes' dequantized value is cached and used. In calibration mode the input
 * quantizer observes and the layer computes in float.
 */
public final class QLinear implements LayerWrapper {

    private final LinearLayer wrapped;
    private final Quantizer weightQuantizer;
    private final Quantizer inputQuantizer;
    private boolean calibrating;
    private QuantizedTensor frozen;
    private NDArray frozenValue;
    private boolean precomputed;

    /**
     * @param wrapped         the layer to wrap; not itself a wrapper
     * @param weightQuantizer not null
     * @param inputQuantizer  null for weight-only
     */
    public QLinear(LinearLayer wrapped, Quantizer weightQuantizer, Quantizer inputQuantizer) {
        if (wrapped instanceof LayerWrapper) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + wrapped.name() + " is already wrapped ("
                    + wrapped.getClass().getSimpleName() + "); unwrap it before wrapping again");
        }
        this.wrapped = Objects.requireNonNull(wrapped, "wrapped");
        this.weightQuantizer = Objects.requireNonNull(weightQuantizer, "weightQuantizer");
        this.inputQuantizer = inputQuantizer;
    }

    @Override
    public String name() {
        return wrapped.name();
    }

    @Override
    public long inFeatures() {
        return wrapped.inFeatures();
    }

    @Override
    public long outFeatures() {
        return wrapped.outFeatures();
    }

    /** The float weight (with any SmoothQuant scale in it); the frozen form is {@link #frozenWeight()}. */
    @Override
    public NDArray weight() {
        return wrapped.weight();
    }

    @Override
    public Optional<NDArray> bias() {
        return wrapped.bias();
    }

    @Override
    public NDArray forward(NDArray x) {
        if (calibrating) {
            if (inputQuantizer != null) {
                inputQuantizer.observe(wrapped instanceof Linear l ? l.prepareInput(x) : x);
            }
            return wrapped.forward(x);
        }
        NDArray scaled = wrapped instanceof Linear l ? l.prepareInput(x) : x;
        NDArray in = inputQuantizer == null ? scaled : inputQuantizer.fakeQuantize(scaled);
        NDArray w = frozenValue != null ? frozenValue : weightQuantizer.fakeQuantize(wrapped.weight());
        NDArray y = in.matMul(w.transpose());
        if (frozenValue == null && !w.hasGradient()) {
            w.close();
        }
        Optional<NDArray> b = wrapped.bias();
        return b.isPresent() ? y.add(b.get()) : y;
    }

    /**
     * Divides output channel {@code j} by {@code s[j]} and keeps the codes: a frozen layer's scales
     * of row {@code j} (per channel or per group) are divided by {@code s[j]}, which is exact, as
     * {@code (q − z)·(scale/s) = ((q − z)·scale)/s}; the bias and the float weight (while held)
     * follow. A layer not yet frozen only has its float weight divided. With {@code halfScales} the
     * divided scales are rounded to F16 (a run writing GPTQ v1, whose checkpoints store F16 scales):
     * the fold is then exact to one F16 rounding of each scale, as if the layer had been quantized
     * after the division.
     *
     * @param s {@code [out]}, positive
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} for a frozen layer with one scale
     *         for the whole tensor (its rows cannot be scaled apart)
     */
    public void divideOutputs(NDArray s, boolean halfScales) {
        if (!(wrapped instanceof Linear plain)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + name() + " is not a plain linear layer; its outputs cannot be rescaled");
        }
        if (frozen == null) {
            plain.divideOutputs(s);
            return;
        }
        QuantSpec spec = frozen.spec();
        if (spec.granularity() != org.fmsmo.api.quant.Granularity.CHANNEL && spec.granularity() != org.fmsmo.api.quant.Granularity.GROUP) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + name() + " is frozen with " + spec
                    + "; only per-channel or per-group weight scales can take a per-row factor exactly");
        }
        NDArray rows = s.reshape(-1, 1);
        NDArray scale = frozen.scale().div(rows);
        if (halfScales) {
            scale = scale.toType(ai.djl.ndarray.types.DataType.FLOAT16, false).toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
        }
        NDScope.unregister(scale);
        frozen.scale().close();
        frozen = new QuantizedTensor(spec, frozen.codes(), scale, frozen.zeroPoint().orElse(null), frozen.groupIndex().orElse(null));
        frozenValue.close();
        frozenValue = frozen.dequantize(); // from the new scales, so the simulation is what a checkpoint of them computes
        NDScope.unregister(frozenValue);
        plain.divideOutputs(s);
    }

    @Override
    public void setCalibrating(boolean calibrating) {
        this.calibrating = calibrating;
    }

    @Override
    public LinearLayer wrapped() {
        return wrapped;
    }

    @Override
    public Quantizer weightQuantizer() {
        return weightQuantizer;
    }

    @Override
    public Optional<Quantizer> inputQuantizer() {
        return Optional.ofNullable(inputQuantizer);
    }

    @Override
    public boolean isFrozen() {
        return frozen != null;
    }

    @Override
    public void freeze() {
        if (frozen == null) {
            // The quantizer's weight-sized temporaries (|W|, broadcast scales) are freed here, not
            // with the block's manager; the codes and their dequantized value stay with the layer.
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                frozen = weightQuantizer.quantize(wrapped.weight());
                frozenValue = frozen.dequantize();
                NDScope.unregister(frozen.codes(), frozen.scale(), frozenValue);
                frozen.zeroPoint().ifPresent(NDScope::unregister);
                frozen.groupIndex().ifPresent(NDScope::unregister);
            }
        }
    }

    @Override
    public void freeze(QuantizedTensor codes) {
        if (frozen != null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + name() + " is already frozen");
        }
        QuantSpec mine = weightQuantizer.spec();
        if (!codes.shape().equals(wrapped.weight().getShape()) || codes.spec().type() != mine.type() || codes.spec().bits() != mine.bits()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + name() + ": expected codes of shape " + wrapped.weight().getShape()
                    + " and type " + mine.type() + " " + mine.bits() + " bits, found " + codes.shape() + " " + codes.spec());
        }
        frozen = codes;
        frozenValue = codes.dequantize();
        precomputed = true;
    }

    /**
     * Whether the frozen codes came from a method ({@link #freeze(QuantizedTensor)}) rather than
     * from the weight quantizer, so that they must be stored: re-quantizing the float weight
     * would not give them back.
     */
    public boolean hasPrecomputedCodes() {
        return precomputed;
    }

    @Override
    public QuantizedTensor frozenWeight() {
        if (frozen == null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + name() + " is not frozen yet; call freeze() first");
        }
        return frozen;
    }

    /** The wrapper provider for {@code qlinear}. */
    public static final class Provider implements org.fmsmo.api.quant.LayerWrapperProvider {
        @Override
        public String name() {
            return "qlinear";
        }

        @Override
        public String description() {
            return "linear layer with input and weight quantizers (simulated in float; frozen to integer/FP8 codes)";
        }

        @Override
        public LayerWrapper wrap(LinearLayer layer, Quantizer weightQuantizer, Quantizer inputQuantizer) {
            return new QLinear(layer, weightQuantizer, inputQuantizer);
        }
    }
}
