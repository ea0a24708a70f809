package org.fmsmo.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.api.quant.Scalars;

/**
 * Every integer mode of QUANTIZERS.md, as a grid (where the levels are), a clip source (where
 * α and β come from) and a gradient rule (the surrogate whose derivative training uses).
 *
 * <p>Grids, per block of the spec's granularity, rounding half to even:
 * <ul>
 *   <li>SYMMETRIC: {@code s = α/(2^(b−1)−1)}, {@code q = clamp(round(x/s), ±(2^(b−1)−1))};</li>
 *   <li>SAWB: the zero-aligned grid of {@code n+1 = 2^b−1} levels,
 *       {@code q = round((clamp(x/α, −1, 1) + 1)/2 · n) − n/2}, {@code s = 2α/n} (its ties differ
 *       from SYMMETRIC's when {@code n/2} is odd);</li>
 *   <li>FULL (GPTQ's and compressed-tensors' symmetric grid): {@code s = α/((2^b − 1)/2)},
 *       {@code q = clamp(round(x/s), −2^(b−1), 2^(b−1)−1)} — all 2^b codes, −8…7 at 4 bits;</li>
 *   <li>ASYMMETRIC: {@code s = (β⁺ − β⁻)/(2^b − 1)}, {@code zp = round(−β⁻/s)},
 *       {@code q = clamp(round(x/s) + zp, 0, 2^b − 1)}; the range is widened to contain 0 so that
 *       0 is exactly representable (an LSQ offset therefore snaps to the integer zero point).</li>
 * </ul>
 */
final class IntQuantizer extends BlockQuantizer {

    enum Grid { SYMMETRIC, SAWB, FULL, ASYMMETRIC }

    enum Clip {
        /** α = max|x| per block (EMA 0.1 in training); static after calibration. */
        ABS_MAX,
        /** [min, max] per block; static after calibration. */
        MIN_MAX,
        /** α = c₁·sqrt(E[w²]) − c₂·E[|w|], per tensor or per channel. */
        SAWB,
        /** learnable α (and β for two-sided PACT+), initialised from calibration or the first input. */
        LEARNED,
        /** learnable α with β = −α. */
        LEARNED_SYMMETRIC,
        /** learnable step s and offset β (LSQ+). */
        LSQ,
        /** given by the user through {@code loadState(clip_val, clip_valn)}. */
        FIXED
    }

    enum Gradient { STE, STE_CLIPPED, PACT, PACT_PLUS, LSQ }

    /**
     * @param floor lower bound of a dynamic α ({@code pertokenmax}: 1e−5)
     */
    record Rule(Grid grid, Clip clip, Gradient gradient, boolean twoSidedLearned, float floor) {
    }

    private static final float EMA = 0.1f;

    private final Rule rule;
    private final RangeObserver observer;
    private NDManager own;
    /** Stored upper clip α (LSQ: the step s), or null when each tensor gives its own range. */
    private NDArray hi;
    /** Stored lower clip β (LSQ: the offset), or null for one-sided / symmetric clips. */
    private NDArray lo;

    IntQuantizer(String mode, QuantSpec spec, Rule rule) {
        super(mode, spec);
        this.rule = rule;
        this.observer = RangeObserver.forSpec(spec, rule.grid() != Grid.ASYMMETRIC);
    }

    /** Sets the percentile of a percentile observer (99.9 means 0.1 / 99.9). */
    void percentile(double upper) {
        if (observer instanceof HistogramObserver h) {
            h.percentile(upper);
        }
    }

    @Override
    public void observe(NDArray x) {
        if (spec().rangeSource() == RangeSource.DYNAMIC) {
            return; // every input brings its own range
        }
        if (spec().granularity() != Granularity.TENSOR) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "quantizer '" + mode() + "' calibrates per-tensor ranges only, spec is " + spec());
        }
        try (NDManager scope = x.getManager().newSubManager()) {
            NDArray d = x.stopGradient();
            d.attach(scope);
            requireFinite(d);
            observer.observe(d);
        }
    }

    @Override
    public void endCalibration() {
        if (observer.isEmpty() || rule.clip() == Clip.SAWB || rule.clip() == Clip.FIXED) {
            return;
        }
        float[] r = observer.range();
        initFrom(r[0], r[1]);
    }

    /** Sets the stored clips from an observed range [lo, hi]. */
    private void initFrom(float min, float max) {
        float amax = Math.max(Math.abs(min), Math.abs(max));
        int levels = (1 << spec().bits()) - 1;
        Map<String, float[]> s = new LinkedHashMap<>();
        switch (rule.clip()) {
            case ABS_MAX, LEARNED_SYMMETRIC -> s.put("clip_val", new float[] {amax});
            case MIN_MAX -> {
                s.put("clip_val", new float[] {max});
                s.put("clip_valn", new float[] {min});
            }
            case LEARNED -> {
                s.put("clip_val", new float[] {Math.max(max, 0f)});
                if (rule.twoSidedLearned() && min < 0) {
                    s.put("clip_valn", new float[] {min});
                }
            }
            case LSQ -> {
                float step = Math.max(max - min, 1e-8f) / levels;
                s.put("scale", new float[] {step});
                s.put("offset", new float[] {min + (1 << (spec().bits() - 1)) * step});
            }
            default -> throw new IllegalStateException(rule.clip().name());
        }
        loadState(s);
    }

    @Override
    public Map<String, NDArray> parameters() {
        if (!learned() || hi == null) {
            return Map.of();
        }
        Map<String, NDArray> p = new LinkedHashMap<>();
        p.put(rule.clip() == Clip.LSQ ? "scale" : "clip_val", hi);
        if (lo != null) {
            p.put(rule.clip() == Clip.LSQ ? "offset" : "clip_valn", lo);
        }
        return p;
    }

    private boolean learned() {
        return rule.clip() == Clip.LEARNED || rule.clip() == Clip.LEARNED_SYMMETRIC || rule.clip() == Clip.LSQ;
    }

    @Override
    public Map<String, float[]> state() {
        Map<String, float[]> s = new LinkedHashMap<>();
        if (hi != null) {
            s.put(rule.clip() == Clip.LSQ ? "scale" : "clip_val", hi.toFloatArray());
        }
        if (lo != null) {
            s.put(rule.clip() == Clip.LSQ ? "offset" : "clip_valn", lo.toFloatArray());
        }
        return s;
    }

    @Override
    public void loadState(Map<String, float[]> state) {
        String hiName = rule.clip() == Clip.LSQ ? "scale" : "clip_val";
        String loName = rule.clip() == Clip.LSQ ? "offset" : "clip_valn";
        for (String k : state.keySet()) {
            if (!k.equals(hiName) && !k.equals(loName)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "quantizer '" + mode() + "': unknown state '" + k + "'; expected "
                        + hiName + " and optionally " + loName);
            }
        }
        float[] h = state.get(hiName);
        if (h == null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "quantizer '" + mode() + "': state needs '" + hiName + "', found " + state.keySet());
        }
        if (rule.clip() == Clip.FIXED && state.containsKey(loName) && rule.grid() != Grid.ASYMMETRIC) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "quantizer '" + mode() + "' with a symmetric spec takes only clip_val");
        }
        close();
        own = NDManager.newBaseManager();
        hi = stored(h, hiName);
        lo = state.containsKey(loName) ? stored(state.get(loName), loName) : null;
        if (rule.clip() == Clip.LSQ && lo == null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "quantizer '" + mode() + "': state needs 'offset' too");
        }
    }

    private NDArray stored(float[] v, String name) {
        for (float f : v) {
            if (!Float.isFinite(f)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "quantizer '" + mode() + "': " + name + " must be finite, found " + f);
            }
        }
        NDArray a = own.create(v, v.length == 1 ? new Shape(1) : new Shape(v.length, 1));
        // state outlives whatever step first set it (a clip started from a training step's input)
        ai.djl.ndarray.NDScope.unregister(a);
        if (learned()) {
            a.setRequiresGradient(true);
        }
        return a;
    }

    @Override
    public void close() {
        if (own != null) {
            own.close();
            own = null;
            hi = null;
            lo = null;
        }
    }

    @Override
    QuantizedTensor quantizeBlocks(NDArray x, NDManager scope, NDManager owner) {
        NDArray[] range = range(x, scope, true);
        QuantSpec spec = spec();
        Shape shape = x.getShape();
        NDArray codes;
        NDArray scale;
        NDArray zeroPoint = null;
        switch (rule.grid()) {
            case SYMMETRIC -> {
                float qmax = (1 << (spec.bits() - 1)) - 1;
                scale = Blocks.nonZero(range[1].div(qmax));
                codes = x.div(QuantizedTensor.broadcast(scale, spec, shape)).round().clip(-qmax, qmax).toType(DataType.INT8, false);
            }
            case FULL -> {
                float half = ((1 << spec.bits()) - 1) / 2f;
                scale = Blocks.nonZero(range[1].div(half));
                float lo = -(1 << (spec.bits() - 1));
                codes = x.div(QuantizedTensor.broadcast(scale, spec, shape)).round().clip(lo, -lo - 1).toType(DataType.INT8, false);
            }
            case SAWB -> {
                float n = (1 << spec.bits()) - 2;
                NDArray alpha = Blocks.nonZero(range[1]);
                NDArray unit = x.div(QuantizedTensor.broadcast(alpha, spec, shape)).clip(-1f, 1f);
                codes = unit.add(1f).div(2f).mul(n).round().sub(n / 2).toType(DataType.INT8, false);
                scale = alpha.mul(2f).div(n);
            }
            default -> {
                float levels = (1 << spec.bits()) - 1;
                NDArray min = range[0].minimum(0f);
                NDArray max = range[1].maximum(0f);
                scale = Blocks.nonZero(max.sub(min).div(levels));
                NDArray zp = min.neg().div(scale).round().clip(0f, levels);
                codes = x.div(QuantizedTensor.broadcast(scale, spec, shape)).round().add(QuantizedTensor.broadcast(zp, spec, shape))
                        .clip(0f, levels).toType(DataType.UINT8, false);
                zeroPoint = zp.toType(DataType.INT32, false);
                zeroPoint.attach(owner);
            }
        }
        codes.attach(owner);
        scale.attach(owner);
        return new QuantizedTensor(spec, codes, scale, zeroPoint);
    }

    /**
     * The clip range per block, detached, in {@code scope}: {lo, hi}; for symmetric grids hi = α
     * and lo = −α. {@code advance}: a training call moves an EMA clip (once per forward).
     */
    private NDArray[] range(NDArray x, NDManager scope, boolean advance) {
        if (hi == null && rule.clip() == Clip.FIXED) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "quantizer 'fix' needs a clip: set clip_val (and clip_valn) first");
        }
        if (hi == null && (learned() || followsMaxByEma())) {
            // Learned clips start from the first input's range; max clips start their EMA from it.
            initFrom(x.min().getFloat(), x.max().getFloat());
            if (rule.clip() == Clip.ABS_MAX) {
                return rangeFromData(x, scope);
            }
        }
        if (hi == null) {
            return rangeFromData(x, scope);
        }
        if (advance && followsMaxByEma()) {
            float updated = (1 - EMA) * hi.getFloat(0) + EMA * x.abs().max().getFloat();
            loadState(Map.of("clip_val", new float[] {updated}));
        }
        NDArray h = detached(hi, scope);
        if (rule.clip() == Clip.LSQ) {
            NDArray min = detached(lo, scope).sub(h.mul((float) (1 << (spec().bits() - 1))));
            return new NDArray[] {min, min.add(h.mul((float) ((1 << spec().bits()) - 1)))};
        }
        if (rule.grid() != Grid.ASYMMETRIC) {
            return new NDArray[] {h.neg(), h};
        }
        return new NDArray[] {lo != null ? detached(lo, scope) : h.zerosLike(), h};
    }

    /** In training a per-tensor {@code max} clip follows max|x| by an exponential moving average. */
    private boolean followsMaxByEma() {
        return training && rule.clip() == Clip.ABS_MAX && spec().granularity() == Granularity.TENSOR
                && spec().rangeSource() != RangeSource.DYNAMIC;
    }

    private NDArray[] rangeFromData(NDArray x, NDManager scope) {
        QuantSpec spec = spec();
        NDArray amax;
        switch (rule.clip()) {
            case MIN_MAX -> {
                return new NDArray[] {Blocks.min(x, spec), Blocks.max(x, spec)};
            }
            case SAWB -> amax = Sawb.clip(x, spec);
            default -> amax = Blocks.absMax(x, spec);
        }
        if (rule.floor() > 0) {
            amax = amax.maximum(rule.floor());
        }
        return new NDArray[] {amax.neg(), amax};
    }

    private static NDArray detached(NDArray a, NDManager scope) {
        NDArray d = a.stopGradient();
        d.attach(scope);
        return d;
    }

    @Override
    NDArray surrogate(NDArray x) {
        if (spec().granularity() == Granularity.TOKEN || rule.gradient() == Gradient.STE) {
            return x;
        }
        NDArray lower;
        NDArray upper;
        if (rule.gradient() == Gradient.STE_CLIPPED) {
            NDArray[] r;
            try (NDManager scope = x.getManager().newSubManager()) {
                NDArray d = x.stopGradient();
                d.attach(scope);
                r = range(d, scope, false); // the clip quantize() just used
                r[0] = QuantizedTensor.broadcast(r[0], spec(), x.getShape());
                r[1] = QuantizedTensor.broadcast(r[1], spec(), x.getShape());
                r[0].attach(x.getManager());
                r[1].attach(x.getManager());
            }
            // The clip is not a parameter here: values at it (the max itself) keep their gradient.
            return clampKeepingBoundary(x, r[0], r[1]);
        }
        // fakeQuantize has quantized x already, which initialised any learned clip.
        if (rule.gradient() == Gradient.LSQ) {
            return lsq(x);
        }
        upper = hi;
        lower = lo != null ? lo : rule.clip() == Clip.LEARNED ? hi.zerosLike() : hi.neg();
        NDArray clipped = clamp(x, lower, upper);
        if (rule.gradient() == Gradient.PACT) {
            return clipped;
        }
        // PACT+: the clips also receive the rounding residual, (round z − z)/m inside the range.
        float m = rule.grid() == Grid.SAWB ? (1 << spec().bits()) - 2 : (1 << spec().bits()) - 1;
        NDArray width = upper.sub(lower);
        NDArray z = Scalars.mul(clipped.sub(lower), m).div(width);
        return Scalars.div(steRound(z).mul(width), m).add(lower);
    }

    /** LSQ+: {@code round(clamp((x − β)/ŝ, −2^(b−1), 2^(b−1)−1))·ŝ + β}, ŝ's gradient scaled by 1/sqrt(N·Qp). */
    private NDArray lsq(NDArray x) {
        float qn = -(1 << (spec().bits() - 1));
        float qp = (1 << (spec().bits() - 1)) - 1;
        float g = (float) (1.0 / Math.sqrt(x.getShape().size() * (double) qp));
        NDArray scaled = Scalars.mul(hi, g);
        NDArray step = scaled.add(hi.sub(scaled).stopGradient()); // value s, gradient g·∂s
        NDArray v = x.sub(lo).div(step).clip(qn, qp);
        return steRound(v).mul(step).add(lo);
    }

    /** {@code round(z)} in value, identity in gradient. */
    private static NDArray steRound(NDArray z) {
        return z.add(z.round().sub(z).stopGradient());
    }

    /** {@code clamp(x, lower, upper)} with the gradient straight through for {@code lower ≤ x ≤ upper}, 0 strictly outside. */
    private static NDArray clampKeepingBoundary(NDArray x, NDArray lower, NDArray upper) {
        NDArray up = upper.broadcast(x.getShape());
        NDArray low = lower.broadcast(x.getShape());
        NDArray inner = NDArrays.where(x.lt(low), low, x);
        return NDArrays.where(x.gt(up), up, inner);
    }

    /**
     * {@code clamp(x, lower, upper)} whose gradient goes to {@code upper} where {@code x ≥ upper},
     * to {@code lower} where {@code x ≤ lower}, and to {@code x} in between (PACT's rule; unlike
     * {@code maximum}, ties are not split).
     */
    private static NDArray clamp(NDArray x, NDArray lower, NDArray upper) {
        NDArray up = upper.broadcast(x.getShape());
        NDArray low = lower.broadcast(x.getShape());
        NDArray inner = NDArrays.where(x.lte(low), low, x);
        return NDArrays.where(x.gte(up), up, inner);
    }
}
