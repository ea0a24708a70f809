package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Fp8Format;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * FP8 (QUANTIZERS.md): codes are {@code fp8(x / s)} rounded to nearest even with saturation,
 * {@code x̂ = fp8⁻¹(code)·s}.
 * <ul>
 *   <li>{@code _scale} modes: per block {@code s = amax / max_fp8} (stored as the dequantization
 *       multiplier, as compressed-tensors does); gradient straight through.</li>
 *   <li>{@code _sat} modes: {@code s = 1}, values beyond ±max_fp8 saturate; gradient straight
 *       through inside ±max_fp8, 0 outside.</li>
 * </ul>
 */
final class Fp8Quantizer extends BlockQuantizer {

    private final Fp8Format format;
    private final boolean scaled;

    Fp8Quantizer(String mode, QuantSpec spec, boolean scaled) {
        super(mode, spec);
        this.format = spec.type().fp8Format().orElseThrow(() -> new FmsmoException(ErrorCode.UNSUPPORTED_SPEC,
                "quantizer '" + mode + "' needs an FP8 spec, found " + spec));
        this.scaled = scaled;
    }

    @Override
    QuantizedTensor quantizeBlocks(NDArray x, NDManager scope, NDManager owner) {
        QuantSpec spec = spec();
        Shape shape = x.getShape();
        NDArray scale = scaled ? Blocks.nonZero(Blocks.absMax(x, spec).div(format.max()))
                : scope.ones(QuantizedTensor.scaleShape(spec, shape));
        float[] values = (scaled ? x.div(QuantizedTensor.broadcast(scale, spec, shape)) : x).toFloatArray();
        byte[] raw = new byte[values.length];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = format.encode(values[i], true);
        }
        NDArray codes = owner.create(ByteBuffer.wrap(raw), shape, DataType.UINT8);
        scale.attach(owner);
        return new QuantizedTensor(spec, codes, scale, null);
    }

    @Override
    NDArray surrogate(NDArray x) {
        if (scaled) {
            return x;
        }
        // Only the gradient of the surrogate matters: 1 where |x| < max_fp8, 0 where it saturates.
        NDArray inside = x.stopGradient().abs().lt(format.max()).toType(DataType.FLOAT32, false);
        return x.mul(inside);
    }
}
