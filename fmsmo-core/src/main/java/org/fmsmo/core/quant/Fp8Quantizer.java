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
 * FP8 with a scale ({@code _scale} modes, QUANTIZERS.md): per block {@code s = amax / max_fp8}
 * (stored as the dequantization multiplier, as compressed-tensors does), codes
 * {@code = fp8(x / s)} rounded to nearest even with saturation, {@code x̂ = fp8⁻¹(code)·s}.
 */
final class Fp8Quantizer extends BlockQuantizer {

    private final Fp8Format format;

    Fp8Quantizer(String mode, QuantSpec spec) {
        super(mode, spec);
        this.format = spec.type().fp8Format().orElseThrow(() -> new FmsmoException(ErrorCode.UNSUPPORTED_SPEC,
                "quantizer '" + mode + "' needs an FP8 spec, found " + spec));
    }

    @Override
    QuantizedTensor quantizeBlocks(NDArray x, NDManager scope, NDManager owner) {
        QuantSpec spec = spec();
        Shape shape = x.getShape();
        NDArray scale = Blocks.nonZero(Blocks.absMax(x, spec).div(format.max()));
        float[] scaled = x.div(QuantizedTensor.broadcast(scale, spec, shape)).toFloatArray();
        byte[] raw = new byte[scaled.length];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = format.encode(scaled[i], true);
        }
        NDArray codes = owner.create(ByteBuffer.wrap(raw), shape, DataType.UINT8);
        scale.attach(owner);
        return new QuantizedTensor(spec, codes, scale, null);
    }
}
