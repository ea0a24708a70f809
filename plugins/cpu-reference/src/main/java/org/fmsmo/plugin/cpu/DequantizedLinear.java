package org.fmsmo.plugin.cpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;

/** Weight-only execution: the weight is dequantized once at prepare time; the product is in float. */
final class DequantizedLinear implements PreparedLinear {

    private final NDManager manager;
    private final NDArray weightT;
    private final NDArray bias;

    DequantizedLinear(FrozenLinear layer) {
        manager = layer.weight().codes().getManager().newSubManager();
        NDArray w = layer.weight().dequantize();
        weightT = w.transpose().duplicate();
        w.close();
        weightT.attach(manager);
        bias = layer.bias() == null ? null : layer.bias().duplicate();
        if (bias != null) {
            bias.attach(manager);
        }
    }

    @Override
    public NDArray forward(NDArray x) {
        NDArray y = x.matMul(weightT);
        return bias == null ? y : y.addi(bias);
    }

    @Override
    public void close() {
        manager.close();
    }
}
