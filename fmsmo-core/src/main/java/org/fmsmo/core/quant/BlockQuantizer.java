package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;

/**
 * What the built-in quantizers share.
 * <ul>
 *   <li>The simulated value is the dequantized frozen form, so the two agree bit for bit.</li>
 *   <li>Gradients come from a differentiable <em>surrogate</em> {@code g(x)} that each mode
 *       defines (QUANTIZERS.md): the output is {@code x̂ + (g − stopGradient(g))}, whose value is
 *       exactly {@code x̂} and whose gradient is {@code ∂g}. The surrogate is only built when a
 *       gradient can be asked for (training mode, or an input that requires gradients).</li>
 *   <li>Inputs with NaN or ±Inf are rejected: a clip or scale computed from them would poison
 *       every value of the block silently.</li>
 *   <li>Intermediates live in a scope closed before returning; TOKEN granularity works on the
 *       input flattened to {@code [tokens, features]}.</li>
 * </ul>
 */
abstract class BlockQuantizer implements Quantizer {

    private final String mode;
    private final QuantSpec spec;
    boolean training;

    BlockQuantizer(String mode, QuantSpec spec) {
        this.mode = mode;
        this.spec = spec;
    }

    @Override
    public final QuantSpec spec() {
        return spec;
    }

    @Override
    public final String mode() {
        return mode;
    }

    @Override
    public void setTraining(boolean training) {
        this.training = training;
    }

    @Override
    public final NDArray fakeQuantize(NDArray x) {
        QuantizedTensor q = quantize(x);
        NDArray y = q.dequantize().reshape(x.getShape()); // TOKEN works on a 2-D view
        q.codes().close();
        q.scale().close();
        q.zeroPoint().ifPresent(NDArray::close);
        if (training || x.hasGradient()) {
            NDArray g = surrogate(x);
            NDArray residual = g.sub(g.stopGradient()); // exactly 0, carries ∂g
            y = y.add(residual);
        }
        return y;
    }

    @Override
    public final QuantizedTensor quantize(NDArray input) {
        NDManager owner = input.getManager();
        try (NDManager scope = owner.newSubManager()) {
            NDArray x = input.stopGradient();
            x.attach(scope);
            x = x.toType(DataType.FLOAT32, false);
            requireFinite(x);
            if (spec.granularity() == Granularity.TOKEN) {
                x = x.reshape(-1, x.getShape().get(x.getShape().dimension() - 1));
            }
            return quantizeBlocks(x, scope, owner);
        }
    }

    /** Rejects NaN and ±Inf: {@code 0·x} sums to NaN exactly when some element is not finite. */
    final void requireFinite(NDArray x) {
        float probe = x.mul(0f).sum().getFloat();
        if (Float.isNaN(probe)) {
            long nan = x.isNaN().countNonzero().getLong();
            long inf = x.isInfinite().countNonzero().getLong();
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "quantizer '" + mode + "' (" + spec + "): expected finite values, found "
                    + nan + " NaN and " + inf + " infinite element(s) in a tensor of shape " + x.getShape());
        }
    }

    /**
     * Quantizes {@code x} (FLOAT32, detached, 2-D for every granularity but TENSOR, owned by
     * {@code scope}). The returned arrays must be attached to {@code owner}; everything else is
     * freed with the scope.
     */
    abstract QuantizedTensor quantizeBlocks(NDArray x, NDManager scope, NDManager owner);

    /**
     * The differentiable function whose gradient the mode uses, same shape as {@code x}. The
     * default, {@code g(x) = x}, is the plain straight-through estimator.
     */
    NDArray surrogate(NDArray x) {
        return x;
    }
}
