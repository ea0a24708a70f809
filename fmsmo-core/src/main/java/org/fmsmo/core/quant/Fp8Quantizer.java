package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Fp8Format;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.RangeSource;

/**
 * FP8 (QUANTIZERS.md): codes are {@code fp8(x / s)} rounded to nearest even with saturation,
 * {@code x̂ = fp8⁻¹(code)·s}.
 * <ul>
 *   <li>{@code _scale} modes: per block {@code s = amax / max_fp8} (stored as the dequantization
 *       multiplier, as compressed-tensors does); gradient straight through.</li>
 *   <li>{@code _sat} modes: {@code s = 1}, values beyond ±max_fp8 saturate; gradient straight
 *       through inside ±max_fp8, 0 outside.</li>
 * </ul>
 * A per-tensor {@code _scale} quantizer that saw calibration batches ({@link #observe}) keeps
 * the observed {@code amax} (state {@code "amax"}) and uses {@code s = amax / max_fp8} for every
 * later input, saturating beyond it: static activation scales, as compressed-tensors'
 * {@code input_scale}. Without calibration each tensor gives its own scale (weights).
 */
final class Fp8Quantizer extends BlockQuantizer {

    private final Fp8Format format;
    private final boolean scaled;
    private final RangeObserver observer;
    /** The calibrated (or loaded) static amax, or null when each tensor gives its own scale. */
    private Float amax;

    Fp8Quantizer(String mode, QuantSpec spec, boolean scaled) {
        super(mode, spec);
        this.format = spec.type().fp8Format().orElseThrow(() -> new FmsmoException(ErrorCode.UNSUPPORTED_SPEC,
                "quantizer '" + mode + "' needs an FP8 spec, found " + spec));
        this.scaled = scaled;
        this.observer = RangeObserver.forSpec(spec, true);
    }

    private boolean calibrates() {
        return scaled && spec().granularity() == Granularity.TENSOR && spec().rangeSource() != RangeSource.DYNAMIC;
    }

    @Override
    public void observe(NDArray x) {
        if (!calibrates()) {
            return;
        }
        try (NDManager scope = x.getManager().newSubManager()) {
            NDArray d = x.stopGradient();
            d.attach(scope);
            d = d.toType(DataType.FLOAT32, false);
            requireFinite(d);
            observer.observe(d);
        }
    }

    @Override
    public void endCalibration() {
        if (calibrates() && !observer.isEmpty()) {
            float[] r = observer.range();
            loadState(Map.of("amax", new float[] {Math.max(Math.abs(r[0]), Math.abs(r[1]))}));
        }
    }

    @Override
    public Map<String, float[]> state() {
        return amax == null ? Map.of() : Map.of("amax", new float[] {amax});
    }

    @Override
    public void loadState(Map<String, float[]> state) {
        float[] a = state.get("amax");
        if (!calibrates() || state.size() != 1 || a == null || a.length != 1 || !Float.isFinite(a[0]) || a[0] < 0) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "quantizer '" + mode() + "' (" + spec() + ") "
                    + (calibrates() ? "takes one state value 'amax' (finite, ≥ 0), found " + describe(state)
                            : "keeps no state (only per-tensor _scale modes with a static range do), found " + state.keySet()));
        }
        amax = a[0];
    }

    private static String describe(Map<String, float[]> state) {
        Map<String, String> d = new java.util.TreeMap<>();
        state.forEach((k, v) -> d.put(k, java.util.Arrays.toString(v)));
        return d.toString();
    }

    @Override
    QuantizedTensor quantizeBlocks(NDArray x, NDManager scope, NDManager owner) {
        QuantSpec spec = spec();
        Shape shape = x.getShape();
        Shape scaleShape = QuantizedTensor.scaleShape(spec, shape);
        NDArray scale = !scaled ? scope.ones(scaleShape)
                : amax != null ? Blocks.nonZero(scope.full(scaleShape, amax / format.max()))
                : Blocks.nonZero(Blocks.absMax(x, spec).div(format.max()));
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
        if (scaled && amax == null) {
            return x;
        }
        float limit = scaled ? amax : format.max();
        // Only the gradient of the surrogate matters: 1 inside the range, 0 where it saturates.
        NDArray inside = x.stopGradient().abs().lt(limit).toType(DataType.FLOAT32, false);
        return x.mul(inside);
    }
}
