package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;

/**
 * What the built-in quantizers share: simulation is defined as dequantizing the frozen form (so
 * the two agree bit for bit), intermediates live in a scope that is closed before returning, and
 * TOKEN granularity works on the input flattened to {@code [tokens, features]}.
 */
abstract class BlockQuantizer implements Quantizer {

    private final String mode;
    private final QuantSpec spec;

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
    public final NDArray fakeQuantize(NDArray x) {
        QuantizedTensor q = quantize(x);
        NDArray y = q.dequantize().reshape(x.getShape()); // TOKEN works on a 2-D view
        q.codes().close();
        q.scale().close();
        q.zeroPoint().ifPresent(NDArray::close);
        return y;
    }

    @Override
    public final QuantizedTensor quantize(NDArray input) {
        NDManager owner = input.getManager();
        try (NDManager scope = owner.newSubManager()) {
            NDArray x = input.duplicate();
            x.attach(scope);
            if (spec.granularity() == Granularity.TOKEN) {
                x = x.reshape(-1, x.getShape().get(x.getShape().dimension() - 1));
            }
            return quantizeBlocks(x.toType(DataType.FLOAT32, false), scope, owner);
        }
    }

    /**
     * Quantizes {@code x} (FLOAT32, 2-D for every granularity but TENSOR, owned by {@code scope}).
     * The returned arrays must be attached to {@code owner}; everything else is freed with the scope.
     */
    abstract QuantizedTensor quantizeBlocks(NDArray x, NDManager scope, NDManager owner);
}
