package org.fmsmo.core.model.transformer;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.quant.Scalars;

/** The MLP gates' activations. */
final class Activations {

    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);

    private Activations() {
    }

    static NDArray apply(TransformerSpec.Activation a, NDArray x) {
        return switch (a) {
            case SILU -> x.mul(Activation.sigmoid(x));
            case GELU -> x.getNDArrayInternal().gelu();
            // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), PyTorch's gelu(approximate="tanh")
            case GELU_TANH -> {
                NDArray inner = Scalars.mul(x.add(Scalars.mul(x.mul(x).mul(x), 0.044715f)), SQRT_2_OVER_PI).tanh();
                yield Scalars.mul(x.mul(inner.add(1f)), 0.5f);
            }
        };
    }
}
