package org.fmsmo.core.quant;

import java.util.function.BiFunction;
import java.util.function.Predicate;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.api.quant.RangeSource;

/**
 * The built-in round-to-nearest quantizer modes, each a provider found by {@code ServiceLoader}
 * (hence one small class per mode with a no-argument constructor). Each honours the spec's
 * granularity: tensor, channel, group or token.
 */
public final class QuantizerModes {

    private QuantizerModes() {
    }

    /** The mode the host picks for a spec when a method names none. */
    public static String defaultMode(QuantSpec spec) {
        return switch (spec.type()) {
            case INT -> spec.symmetric() ? Max.NAME : MinMax.NAME;
            case FP8_E4M3 -> Fp8E4m3Scale.NAME;
            case FP8_E5M2 -> Fp8E5m2Scale.NAME;
        };
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
            // Round-to-nearest modes take ranges from the data itself: static min/max or per-token dynamic.
            this.accepts = accepts.and(s -> s.rangeSource() == RangeSource.MINMAX || s.rangeSource() == RangeSource.DYNAMIC);
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

        @Override
        public final Quantizer create(QuantSpec spec) {
            if (!supports(spec)) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "quantizer mode '" + name + "' does not support "
                        + spec + "; it takes " + description);
            }
            return factory.apply(name, spec);
        }
    }

    /** {@code max}: symmetric INT, α = max|x| per block. */
    public static final class Max extends Base {
        static final String NAME = "max";

        /** Creates the provider. */
        public Max() {
            super(NAME, "symmetric INT2-8, alpha = max|x| per tensor/channel/group/token, round half to even",
                    s -> s.type() == QuantType.INT && s.symmetric(), IntGridQuantizer::new);
        }
    }

    /** {@code minmax}: asymmetric INT with a zero point, range [min, max] (always containing 0) per block. */
    public static final class MinMax extends Base {
        static final String NAME = "minmax";

        /** Creates the provider. */
        public MinMax() {
            super(NAME, "asymmetric INT2-8 with zero point, range [min, max] per tensor/channel/group/token",
                    s -> s.type() == QuantType.INT && !s.symmetric(), IntGridQuantizer::new);
        }
    }

    /** {@code fp8_e4m3_scale}: FP8 e4m3 with s = amax / 448 per block. */
    public static final class Fp8E4m3Scale extends Base {
        static final String NAME = "fp8_e4m3_scale";

        /** Creates the provider. */
        public Fp8E4m3Scale() {
            super(NAME, "FP8 e4m3, scale = amax/448 per tensor/channel/group/token, round to nearest even, saturating",
                    s -> s.type() == QuantType.FP8_E4M3, Fp8Quantizer::new);
        }
    }

    /** {@code fp8_e5m2_scale}: FP8 e5m2 with s = amax / 57344 per block. */
    public static final class Fp8E5m2Scale extends Base {
        static final String NAME = "fp8_e5m2_scale";

        /** Creates the provider. */
        public Fp8E5m2Scale() {
            super(NAME, "FP8 e5m2, scale = amax/57344 per tensor/channel/group/token, round to nearest even, saturating",
                    s -> s.type() == QuantType.FP8_E5M2, Fp8Quantizer::new);
        }
    }
}
