package org.fmsmo.core.quant;

import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.api.quant.RangeSource;

/** The built-in round-to-nearest quantizer modes. Each honours the spec's granularity. */
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

    abstract static class Base implements QuantizerProvider {
        @Override
        public Quantizer create(QuantSpec spec) {
            if (!supports(spec)) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "quantizer mode '" + name() + "' does not support "
                        + spec + "; it takes " + description());
            }
            return make(spec);
        }

        abstract Quantizer make(QuantSpec spec);

        static boolean rangeOk(QuantSpec s) {
            return s.rangeSource() == RangeSource.MINMAX || s.rangeSource() == RangeSource.DYNAMIC;
        }
    }

    /** {@code max}: symmetric INT, α = max|x| per block. */
    public static final class Max extends Base {
        static final String NAME = "max";

        @Override
        public String name() {
            return NAME;
        }

        @Override
        public String description() {
            return "symmetric INT2-8, alpha = max|x| per tensor/channel/group/token, round half to even";
        }

        @Override
        public boolean supports(QuantSpec s) {
            return s.type() == QuantType.INT && s.symmetric() && rangeOk(s);
        }

        @Override
        Quantizer make(QuantSpec spec) {
            return new IntGridQuantizer(NAME, spec);
        }
    }

    /** {@code minmax}: asymmetric INT with a zero point, range [min, max] per block. */
    public static final class MinMax extends Base {
        static final String NAME = "minmax";

        @Override
        public String name() {
            return NAME;
        }

        @Override
        public String description() {
            return "asymmetric INT2-8 with zero point, range [min, max] per tensor/channel/group/token";
        }

        @Override
        public boolean supports(QuantSpec s) {
            return s.type() == QuantType.INT && !s.symmetric() && rangeOk(s);
        }

        @Override
        Quantizer make(QuantSpec spec) {
            return new IntGridQuantizer(NAME, spec);
        }
    }

    /** {@code fp8_e4m3_scale}: FP8 e4m3 with s = amax / 448 per block. */
    public static final class Fp8E4m3Scale extends Base {
        static final String NAME = "fp8_e4m3_scale";

        @Override
        public String name() {
            return NAME;
        }

        @Override
        public String description() {
            return "FP8 e4m3, scale = amax/448 per tensor/channel/group/token, round to nearest even, saturating";
        }

        @Override
        public boolean supports(QuantSpec s) {
            return s.type() == QuantType.FP8_E4M3 && rangeOk(s);
        }

        @Override
        Quantizer make(QuantSpec spec) {
            return new Fp8Quantizer(NAME, spec);
        }
    }

    /** {@code fp8_e5m2_scale}: FP8 e5m2 with s = amax / 57344 per block. */
    public static final class Fp8E5m2Scale extends Base {
        static final String NAME = "fp8_e5m2_scale";

        @Override
        public String name() {
            return NAME;
        }

        @Override
        public String description() {
            return "FP8 e5m2, scale = amax/57344 per tensor/channel/group/token, round to nearest even, saturating";
        }

        @Override
        public boolean supports(QuantSpec s) {
            return s.type() == QuantType.FP8_E5M2 && rangeOk(s);
        }

        @Override
        Quantizer make(QuantSpec spec) {
            return new Fp8Quantizer(NAME, spec);
        }
    }
}
