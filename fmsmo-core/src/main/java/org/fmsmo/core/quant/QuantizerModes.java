package org.fmsmo.core.quant;

import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Predicate;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.core.quant.IntQuantizer.Clip;
import org.fmsmo.core.quant.IntQuantizer.Gradient;
import org.fmsmo.core.quant.IntQuantizer.Grid;

/**
 * The built-in quantizer modes of QUANTIZERS.md, each a provider found by {@code ServiceLoader}
 * (hence one small class per mode with a no-argument constructor). A mode's name fixes what it
 * accepts: {@code perCh} modes need CHANNEL specs, {@code perGp} GROUP, {@code pertokenmax} and
 * {@code _perToken} TOKEN; the plain {@code max}, {@code minmax} and {@code fp8_*_scale} modes
 * take any granularity.
 */
public final class QuantizerModes {

    /** Every built-in mode name, in documentation order. */
    public static final List<String> NAMES = List.of("pact", "pact+", "pactsym", "pactsym+", "lsq+", "pertokenmax", "fix", "sawb", "sawb+", "sawbperCh", "sawb+perCh", "max", "maxsym", "maxperCh", "maxperGp", "minmax", "minmaxperCh", "minmaxperGp", "maxfull", "maxfullperCh", "maxfullperGp", "fp8_e4m3_sat", "fp8_e5m2_sat", "fp8_e4m3_scale", "fp8_e5m2_scale", "fp8_e4m3_scale_perCh", "fp8_e5m2_scale_perCh", "fp8_e4m3_scale_perToken", "fp8_e5m2_scale_perToken");

    private QuantizerModes() {
    }

    /** The mode the host picks for a spec when a method names none. */
    public static String defaultMode(QuantSpec spec) {
        return switch (spec.type()) {
            case INT -> spec.symmetric() ? "max" : "minmax";
            case FP8_E4M3 -> "fp8_e4m3_scale";
            case FP8_E5M2 -> "fp8_e5m2_scale";
        };
    }

    /**
     * The spec a mode implies for a bit width: symmetry, granularity and the FP8 type come from
     * the mode's name; {@code groupSize} serves {@code perGp} modes; {@code observed} is the range
     * source for static activation ranges (ignored by modes whose range is dynamic or fixed).
     */
    public static QuantSpec specFor(String mode, int bits, int groupSize, RangeSource observed) {
        boolean asym = mode.startsWith("pact") && !mode.startsWith("pactsym") || mode.equals("lsq+") || mode.startsWith("minmax");
        QuantType type = mode.startsWith("fp8_e4m3") ? QuantType.FP8_E4M3 : mode.startsWith("fp8_e5m2") ? QuantType.FP8_E5M2 : QuantType.INT;
        QuantSpec base = new QuantSpec(type, type == QuantType.INT ? bits : 8, !asym, Granularity.TENSOR, 0,
                mode.startsWith("sawb") ? RangeSource.SAWB : mode.equals("fix") ? RangeSource.FIXED : observed);
        if (mode.endsWith("perCh")) {
            return base.withGranularity(Granularity.CHANNEL);
        }
        if (mode.endsWith("perGp")) {
            return base.withGroupSize(groupSize);
        }
        if (mode.equals("pertokenmax") || mode.endsWith("_perToken")) {
            return base.withGranularity(Granularity.TOKEN);
        }
        return base;
    }

    private static boolean symInt(QuantSpec s) {
        return s.type() == QuantType.INT && s.symmetric();
    }

    private static boolean asymInt(QuantSpec s) {
        return s.type() == QuantType.INT && !s.symmetric();
    }

    private static boolean sawbInt(QuantSpec s) {
        return symInt(s) && Sawb.supports(s.bits());
    }

    private static boolean tensor(QuantSpec s) {
        return s.granularity() == Granularity.TENSOR;
    }

    private static IntQuantizer.Rule rule(Grid grid, Clip clip, Gradient gradient, boolean twoSided) {
        return new IntQuantizer.Rule(grid, clip, gradient, twoSided, 0f);
    }

    /** A built-in mode's uses: see {@link Base#uses()}. */
    public static java.util.Set<QuantizerProvider.Use> uses(String mode) {
        Base provider = BuiltIn.BY_NAME.get(mode);
        if (provider == null) {
            throw new FmsmoException(ErrorCode.UNKNOWN_NAME, "unknown quantizer mode '" + mode + "'; built-in modes: " + NAMES);
        }
        return provider.uses();
    }

    /**
     * A quantizer of a built-in mode.
     *
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} listing the built-in modes
     */
    public static Quantizer create(String mode, QuantSpec spec) {
        Base provider = BuiltIn.BY_NAME.get(mode);
        if (provider == null) {
            throw new FmsmoException(ErrorCode.UNKNOWN_NAME, "unknown quantizer mode '" + mode + "'; built-in modes: " + NAMES);
        }
        return provider.create(spec);
    }

    /** The built-in providers by mode name, built once on first use. */
    private static final class BuiltIn {
        static final java.util.Map<String, Base> BY_NAME = byName();

        private static java.util.Map<String, Base> byName() {
            java.util.Map<String, Base> m = new java.util.HashMap<>();
            for (Class<?> c : QuantizerModes.class.getDeclaredClasses()) {
                if (Base.class.isAssignableFrom(c) && !java.lang.reflect.Modifier.isAbstract(c.getModifiers())) {
                    try {
                        Base b = (Base) c.getDeclaredConstructor().newInstance();
                        m.put(b.name(), b);
                    } catch (ReflectiveOperationException e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
            return java.util.Map.copyOf(m);
        }
    }

    /** Sets the percentile a percentile-calibrated built-in quantizer uses (99.9 means 0.1 / 99.9); others ignore it. */
    public static void setPercentile(Quantizer q, double upper) {
        if (q instanceof IntQuantizer iq) {
            iq.percentile(upper);
        }
    }

    /** A mode: its name, what it takes, and how it builds a quantizer. */
    abstract static class Base implements QuantizerProvider {
        private final String name;
        private final String description;
        private final Predicate<QuantSpec> accepts;
        private final BiFunction<String, QuantSpec, Quantizer> factory;

        Base(String name, String description, Predicate<QuantSpec> accepts, BiFunction<String, QuantSpec, Quantizer> factory) {
            this.name = name;
            this.description = description;
            this.accepts = accepts;
            this.factory = factory;
        }

        @Override
        public final String name() {
            return name;
        }

        @Override
        public final String description() {
            return description;
        }

        @Override
        public final boolean supports(QuantSpec spec) {
            return accepts.test(spec);
        }

        /**
         * By the fms-mo naming: SAWB, {@code maxfull} and the per-channel and per-group modes are
         * for weights; per-token modes, LSQ+, {@code fix} and symmetric PACT for activations; the
         * rest ({@code max}, {@code minmax}, PACT, the per-tensor FP8 modes) for both.
         */
        @Override
        public final java.util.Set<Use> uses() {
            if (name.startsWith("sawb") || name.startsWith("maxfull") || name.endsWith("perCh") || name.endsWith("perGp")) {
                return java.util.EnumSet.of(Use.WEIGHTS);
            }
            if (name.endsWith("_perToken") || name.equals("pertokenmax") || name.equals("lsq+") || name.equals("fix") || name.startsWith("pactsym")) {
                return java.util.EnumSet.of(Use.ACTIVATIONS);
            }
            return java.util.EnumSet.allOf(Use.class);
        }

        @Override
        public final Quantizer create(QuantSpec spec) {
            if (!supports(spec)) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "quantizer mode '" + name + "' does not support "
                        + spec + "; it takes " + description);
            }
            return factory.apply(name, spec);
        }
    }

    /** {@code pact}: one-sided PACT: learnable clip alpha, range [0, alpha], asymmetric INT2-8 per tensor; gradient to alpha where x &gt;= alpha. */
    public static final class Pact extends Base {
        /** Creates the provider. */
        public Pact() {
            super("pact", "one-sided PACT: learnable clip alpha, range [0, alpha], asymmetric INT2-8 per tensor; gradient to alpha where x >= alpha",
                    s -> asymInt(s) && tensor(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.ASYMMETRIC, Clip.LEARNED, Gradient.PACT, false)));
        }
    }

    /** {@code pact+}: PACT+: learnable alpha (and beta when the input has negatives), asymmetric INT2-8 per tensor; clips also get the rounding residual. */
    public static final class PactPlus extends Base {
        /** Creates the provider. */
        public PactPlus() {
            super("pact+", "PACT+: learnable alpha (and beta when the input has negatives), asymmetric INT2-8 per tensor; clips also get the rounding residual",
                    s -> asymInt(s) && tensor(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.ASYMMETRIC, Clip.LEARNED, Gradient.PACT_PLUS, true)));
        }
    }

    /** {@code pactsym}: symmetric PACT: learnable alpha, range [-alpha, alpha], symmetric INT2-8 per tensor. */
    public static final class PactSym extends Base {
        /** Creates the provider. */
        public PactSym() {
            super("pactsym", "symmetric PACT: learnable alpha, range [-alpha, alpha], symmetric INT2-8 per tensor",
                    s -> symInt(s) && tensor(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SYMMETRIC, Clip.LEARNED_SYMMETRIC, Gradient.PACT, false)));
        }
    }

    /** {@code pactsym+}: symmetric PACT+: learnable alpha on the zero-aligned 2^b-1 level grid, symmetric INT2-8 per tensor. */
    public static final class PactSymPlus extends Base {
        /** Creates the provider. */
        public PactSymPlus() {
            super("pactsym+", "symmetric PACT+: learnable alpha on the zero-aligned 2^b-1 level grid, symmetric INT2-8 per tensor",
                    s -> symInt(s) && tensor(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SAWB, Clip.LEARNED_SYMMETRIC, Gradient.PACT_PLUS, false)));
        }
    }

    /** {@code lsq+}: LSQ+: learnable step and offset (step gradient scaled by 1/sqrt(N*Qp)), asymmetric INT2-8 per tensor. */
    public static final class LsqPlus extends Base {
        /** Creates the provider. */
        public LsqPlus() {
            super("lsq+", "LSQ+: learnable step and offset (step gradient scaled by 1/sqrt(N*Qp)), asymmetric INT2-8 per tensor",
                    s -> asymInt(s) && tensor(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.ASYMMETRIC, Clip.LSQ, Gradient.LSQ, true)));
        }
    }

    /** {@code pertokenmax}: dynamic per-token symmetric INT2-8, s = max(|x|, 1e-5)/(2^(b-1)-1). */
    public static final class PerTokenMax extends Base {
        /** Creates the provider. */
        public PerTokenMax() {
            super("pertokenmax", "dynamic per-token symmetric INT2-8, s = max(|x|, 1e-5)/(2^(b-1)-1)",
                    s -> symInt(s) && s.granularity() == Granularity.TOKEN,
                    (n, s) -> new IntQuantizer(n, s, new IntQuantizer.Rule(Grid.SYMMETRIC, Clip.ABS_MAX, Gradient.STE, false, 1e-5f)));
        }
    }

    /** {@code fix}: fixed clip [clip_valn, clip_val] set by hand (symmetric or asymmetric INT2-8 per tensor), no learning. */
    public static final class Fix extends Base {
        /** Creates the provider. */
        public Fix() {
            super("fix", "fixed clip [clip_valn, clip_val] set by hand (symmetric or asymmetric INT2-8 per tensor), no learning",
                    s -> s.type() == QuantType.INT && tensor(s),
                    (n, s) -> new IntQuantizer(n, s, rule(s.symmetric() ? Grid.SYMMETRIC : Grid.ASYMMETRIC, Clip.FIXED, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code sawb}: SAWB: alpha = c1*sqrt(E[w^2]) - c2*E[|w|] per tensor, zero-aligned grid, symmetric INT 2,3,4,5,7,8. */
    public static final class SawbMode extends Base {
        /** Creates the provider. */
        public SawbMode() {
            super("sawb", "SAWB: alpha = c1*sqrt(E[w^2]) - c2*E[|w|] per tensor, zero-aligned grid, symmetric INT 2,3,4,5,7,8",
                    s -> sawbInt(s) && tensor(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SAWB, Clip.SAWB, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code sawb+}: SAWB+ (gradient straight through everywhere) per tensor, symmetric INT 2,3,4,5,7,8. */
    public static final class SawbPlus extends Base {
        /** Creates the provider. */
        public SawbPlus() {
            super("sawb+", "SAWB+ (gradient straight through everywhere) per tensor, symmetric INT 2,3,4,5,7,8",
                    s -> sawbInt(s) && tensor(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SAWB, Clip.SAWB, Gradient.STE, false)));
        }
    }

    /** {@code sawbperCh}: SAWB per output channel, symmetric INT 2,3,4,5,7,8. */
    public static final class SawbPerCh extends Base {
        /** Creates the provider. */
        public SawbPerCh() {
            super("sawbperCh", "SAWB per output channel, symmetric INT 2,3,4,5,7,8",
                    s -> sawbInt(s) && s.granularity() == Granularity.CHANNEL,
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SAWB, Clip.SAWB, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code sawb+perCh}: SAWB+ per output channel, symmetric INT 2,3,4,5,7,8. */
    public static final class SawbPlusPerCh extends Base {
        /** Creates the provider. */
        public SawbPlusPerCh() {
            super("sawb+perCh", "SAWB+ per output channel, symmetric INT 2,3,4,5,7,8",
                    s -> sawbInt(s) && s.granularity() == Granularity.CHANNEL,
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SAWB, Clip.SAWB, Gradient.STE, false)));
        }
    }

    /** {@code max}: symmetric INT2-8, alpha = max|x| per tensor/channel/group/token (EMA 0.1 in training), zero-aligned grid. */
    public static final class Max extends Base {
        /** Creates the provider. */
        public Max() {
            super("max", "symmetric INT2-8, alpha = max|x| per tensor/channel/group/token (EMA 0.1 in training), zero-aligned grid",
                    s -> symInt(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SAWB, Clip.ABS_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code maxsym}: symmetric INT2-8, alpha = max|x| (fms-mo's name for activations), zero-aligned grid, any granularity. */
    public static final class MaxSym extends Base {
        /** Creates the provider. */
        public MaxSym() {
            super("maxsym", "symmetric INT2-8, alpha = max|x| (fms-mo's name for activations), zero-aligned grid, any granularity",
                    s -> symInt(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SAWB, Clip.ABS_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code maxperCh}: symmetric INT2-8, alpha = max|w| per output channel. */
    public static final class MaxPerCh extends Base {
        /** Creates the provider. */
        public MaxPerCh() {
            super("maxperCh", "symmetric INT2-8, alpha = max|w| per output channel",
                    s -> symInt(s) && s.granularity() == Granularity.CHANNEL,
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SAWB, Clip.ABS_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code maxperGp}: symmetric INT2-8, alpha = max|w| per group of input columns. */
    public static final class MaxPerGp extends Base {
        /** Creates the provider. */
        public MaxPerGp() {
            super("maxperGp", "symmetric INT2-8, alpha = max|w| per group of input columns",
                    s -> symInt(s) && s.granularity() == Granularity.GROUP,
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.SAWB, Clip.ABS_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code maxfull}: symmetric INT2-8 on the full grid (GPTQ, compressed-tensors): s = max|x|/((2^b-1)/2), codes -2^(b-1)..2^(b-1)-1. */
    public static final class MaxFull extends Base {
        /** Creates the provider. */
        public MaxFull() {
            super("maxfull", "symmetric INT2-8 on the full grid (GPTQ, compressed-tensors): s = max|x|/((2^b-1)/2), codes -2^(b-1)..2^(b-1)-1",
                    s -> symInt(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.FULL, Clip.ABS_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code maxfullperCh}: full-grid symmetric INT2-8 per output channel. */
    public static final class MaxFullPerCh extends Base {
        /** Creates the provider. */
        public MaxFullPerCh() {
            super("maxfullperCh", "full-grid symmetric INT2-8 per output channel",
                    s -> symInt(s) && s.granularity() == Granularity.CHANNEL,
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.FULL, Clip.ABS_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code maxfullperGp}: full-grid symmetric INT2-8 per group of input columns. */
    public static final class MaxFullPerGp extends Base {
        /** Creates the provider. */
        public MaxFullPerGp() {
            super("maxfullperGp", "full-grid symmetric INT2-8 per group of input columns",
                    s -> symInt(s) && s.granularity() == Granularity.GROUP,
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.FULL, Clip.ABS_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code minmax}: asymmetric INT2-8 with zero point, range [min, max] per tensor/channel/group/token. */
    public static final class MinMax extends Base {
        /** Creates the provider. */
        public MinMax() {
            super("minmax", "asymmetric INT2-8 with zero point, range [min, max] per tensor/channel/group/token",
                    s -> asymInt(s),
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.ASYMMETRIC, Clip.MIN_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code minmaxperCh}: asymmetric INT2-8, range [min, max] per output channel. */
    public static final class MinMaxPerCh extends Base {
        /** Creates the provider. */
        public MinMaxPerCh() {
            super("minmaxperCh", "asymmetric INT2-8, range [min, max] per output channel",
                    s -> asymInt(s) && s.granularity() == Granularity.CHANNEL,
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.ASYMMETRIC, Clip.MIN_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code minmaxperGp}: asymmetric INT2-8, range [min, max] per group of input columns. */
    public static final class MinMaxPerGp extends Base {
        /** Creates the provider. */
        public MinMaxPerGp() {
            super("minmaxperGp", "asymmetric INT2-8, range [min, max] per group of input columns",
                    s -> asymInt(s) && s.granularity() == Granularity.GROUP,
                    (n, s) -> new IntQuantizer(n, s, rule(Grid.ASYMMETRIC, Clip.MIN_MAX, Gradient.STE_CLIPPED, false)));
        }
    }

    /** {@code fp8_e4m3_sat}: FP8 e4m3 without scale, saturating at +-448, per tensor. */
    public static final class Fp8E4m3Sat extends Base {
        /** Creates the provider. */
        public Fp8E4m3Sat() {
            super("fp8_e4m3_sat", "FP8 e4m3 without scale, saturating at +-448, per tensor",
                    s -> s.type() == QuantType.FP8_E4M3 && tensor(s),
                    (n, s) -> new Fp8Quantizer(n, s, false));
        }
    }

    /** {@code fp8_e5m2_sat}: FP8 e5m2 without scale, saturating at +-57344, per tensor. */
    public static final class Fp8E5m2Sat extends Base {
        /** Creates the provider. */
        public Fp8E5m2Sat() {
            super("fp8_e5m2_sat", "FP8 e5m2 without scale, saturating at +-57344, per tensor",
                    s -> s.type() == QuantType.FP8_E5M2 && tensor(s),
                    (n, s) -> new Fp8Quantizer(n, s, false));
        }
    }

    /** {@code fp8_e4m3_scale}: FP8 e4m3, scale = amax/448 per tensor/channel/group/token, round to nearest even, saturating. */
    public static final class Fp8E4m3Scale extends Base {
        /** Creates the provider. */
        public Fp8E4m3Scale() {
            super("fp8_e4m3_scale", "FP8 e4m3, scale = amax/448 per tensor/channel/group/token, round to nearest even, saturating",
                    s -> s.type() == QuantType.FP8_E4M3,
                    (n, s) -> new Fp8Quantizer(n, s, true));
        }
    }

    /** {@code fp8_e5m2_scale}: FP8 e5m2, scale = amax/57344 per tensor/channel/group/token, round to nearest even, saturating. */
    public static final class Fp8E5m2Scale extends Base {
        /** Creates the provider. */
        public Fp8E5m2Scale() {
            super("fp8_e5m2_scale", "FP8 e5m2, scale = amax/57344 per tensor/channel/group/token, round to nearest even, saturating",
                    s -> s.type() == QuantType.FP8_E5M2,
                    (n, s) -> new Fp8Quantizer(n, s, true));
        }
    }

    /** {@code fp8_e4m3_scale_perCh}: FP8 e4m3, scale = amax/448 per output channel. */
    public static final class Fp8E4m3ScalePerCh extends Base {
        /** Creates the provider. */
        public Fp8E4m3ScalePerCh() {
            super("fp8_e4m3_scale_perCh", "FP8 e4m3, scale = amax/448 per output channel",
                    s -> s.type() == QuantType.FP8_E4M3 && s.granularity() == Granularity.CHANNEL,
                    (n, s) -> new Fp8Quantizer(n, s, true));
        }
    }

    /** {@code fp8_e5m2_scale_perCh}: FP8 e5m2, scale = amax/57344 per output channel. */
    public static final class Fp8E5m2ScalePerCh extends Base {
        /** Creates the provider. */
        public Fp8E5m2ScalePerCh() {
            super("fp8_e5m2_scale_perCh", "FP8 e5m2, scale = amax/57344 per output channel",
                    s -> s.type() == QuantType.FP8_E5M2 && s.granularity() == Granularity.CHANNEL,
                    (n, s) -> new Fp8Quantizer(n, s, true));
        }
    }

    /** {@code fp8_e4m3_scale_perToken}: FP8 e4m3, scale = amax/448 per token (dynamic). */
    public static final class Fp8E4m3ScalePerToken extends Base {
        /** Creates the provider. */
        public Fp8E4m3ScalePerToken() {
            super("fp8_e4m3_scale_perToken", "FP8 e4m3, scale = amax/448 per token (dynamic)",
                    s -> s.type() == QuantType.FP8_E4M3 && s.granularity() == Granularity.TOKEN,
                    (n, s) -> new Fp8Quantizer(n, s, true));
        }
    }

    /** {@code fp8_e5m2_scale_perToken}: FP8 e5m2, scale = amax/57344 per token (dynamic). */
    public static final class Fp8E5m2ScalePerToken extends Base {
        /** Creates the provider. */
        public Fp8E5m2ScalePerToken() {
            super("fp8_e5m2_scale_perToken", "FP8 e5m2, scale = amax/57344 per token (dynamic)",
                    s -> s.type() == QuantType.FP8_E5M2 && s.granularity() == Granularity.TOKEN,
                    (n, s) -> new Fp8Quantizer(n, s, true));
        }
    }
}
