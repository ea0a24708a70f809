package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.RangeSource;

/**
 * Round-to-nearest on a uniform integer grid (QUANTIZERS.md, "Integer grids"):
 * <ul>
 *   <li>symmetric, restricted range: {@code s = amax / (2^(b−1) − 1)},
 *       {@code q = clamp(round(x/s), −(2^(b−1)−1), 2^(b−1)−1)};</li>
 *   <li>asymmetric: {@code s = (max − min) / (2^b − 1)}, {@code zp = round(−min/s)},
 *       {@code q = clamp(round(x/s) + zp, 0, 2^b − 1)}; the range always contains 0.</li>
 * </ul>
 * Rounding is half to even. The range is taken per block of the spec's granularity, from what
 * {@link #observe} saw (per-tensor calibration) or else from the tensor itself.
 */
final class IntGridQuantizer extends BlockQuantizer {

    private float observedMin = Float.POSITIVE_INFINITY;
    private float observedMax = Float.NEGATIVE_INFINITY;

    IntGridQuantizer(String mode, QuantSpec spec) {
        if (spec.type() != QuantType.INT) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "quantizer '" + mode + "' needs an INT spec, found " + spec);
        }
        super(mode, spec);
    }

    @Override
    public void observe(NDArray x) {
        if (spec().granularity() != Granularity.TENSOR || spec().rangeSource() != RangeSource.MINMAX) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "quantizer '" + mode() + "' calibrates only per-tensor MINMAX ranges, spec is " + spec());
        }
        observedMin = Math.min(observedMin, x.min().getFloat());
        observedMax = Math.max(observedMax, x.max().getFloat());
    }

    @Override
    QuantizedTensor quantizeBlocks(NDArray x, NDManager scope, NDManager owner) {
        QuantSpec spec = spec();
        Shape shape = x.getShape();
        boolean observed = observedMin <= observedMax;
        NDArray codes;
        NDArray scale;
        NDArray zeroPoint = null;
        if (spec.symmetric()) {
            float qmax = (1 << (spec.bits() - 1)) - 1;
            NDArray amax = observed ? scope.create(new float[] {Math.max(-observedMin, observedMax)}) : Blocks.absMax(x, spec);
            scale = Blocks.nonZero(amax.div(qmax));
            codes = x.div(QuantizedTensor.broadcast(scale, spec, shape)).round().clip(-qmax, qmax).toType(DataType.INT8, false);
        } else {
            float levels = (1 << spec.bits()) - 1;
            NDArray lo = observed ? scope.create(new float[] {Math.min(observedMin, 0f)}) : Blocks.min(x, spec);
            NDArray hi = observed ? scope.create(new float[] {Math.max(observedMax, 0f)}) : Blocks.max(x, spec);
            scale = Blocks.nonZero(hi.sub(lo).div(levels));
            NDArray zp = lo.neg().div(scale).round().clip(0f, levels);
            NDArray q = x.div(QuantizedTensor.broadcast(scale, spec, shape)).round().add(QuantizedTensor.broadcast(zp, spec, shape)).clip(0f, levels);
            codes = q.toType(DataType.UINT8, false);
            zeroPoint = zp.toType(DataType.INT32, false);
            zeroPoint.attach(owner);
        }
        codes.attach(owner);
        scale.attach(owner);
        return new QuantizedTensor(spec, codes, scale, zeroPoint);
    }
}
