package com.example.fmsmo.stochastic;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;

/**
 * Symmetric INT with stochastic rounding: {@code s = amax / (2^(b−1) − 1)},
 * {@code q = clamp(floor(x/s + u), ±(2^(b−1) − 1))} with {@code u ~ U[0, 1)}, so {@code E[q·s] = x}.
 */
final class StochasticQuantizer implements Quantizer {

    private final QuantSpec spec;
    private final SplittableRandom random;

    StochasticQuantizer(QuantSpec spec, SplittableRandom random) {
        if (spec.type() != QuantType.INT || !spec.symmetric()
                || (spec.granularity() != Granularity.TENSOR && spec.granularity() != Granularity.CHANNEL)) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC,
                    "stochastic-rtn takes symmetric INT per tensor or channel, found " + spec);
        }
        this.spec = spec;
        this.random = random;
    }

    @Override
    public QuantSpec spec() {
        return spec;
    }

    @Override
    public String mode() {
        return "stochastic";
    }

    @Override
    public NDArray fakeQuantize(NDArray x) {
        QuantizedTensor q = quantize(x);
        NDArray y = q.dequantize();
        q.codes().close();
        q.scale().close();
        return y;
    }

    @Override
    public QuantizedTensor quantize(NDArray x) {
        Shape shape = x.getShape();
        float[] w = x.toType(DataType.FLOAT32, true).toFloatArray();
        int rows = spec.granularity() == Granularity.CHANNEL ? Math.toIntExact(shape.get(0)) : 1;
        int cols = w.length / rows;
        int qmax = (1 << (spec.bits() - 1)) - 1;
        float[] scale = new float[rows];
        byte[] codes = new byte[w.length];
        for (int r = 0; r < rows; r++) {
            float amax = 0f;
            for (int c = 0; c < cols; c++) {
                amax = Math.max(amax, Math.abs(w[r * cols + c]));
            }
            float s = amax == 0f ? 1f : amax / qmax;
            scale[r] = s;
            for (int c = 0; c < cols; c++) {
                double q = Math.floor(w[r * cols + c] / s + random.nextDouble());
                codes[r * cols + c] = (byte) Math.max(-qmax, Math.min(qmax, q));
            }
        }
        NDManager m = x.getManager();
        NDArray codeArray = m.create(ByteBuffer.wrap(codes), shape, DataType.INT8);
        NDArray scaleArray = m.create(scale, QuantizedTensor.scaleShape(spec, shape));
        return new QuantizedTensor(spec, codeArray, scaleArray, null);
    }
}
