package org.fmsmo.plugin.awq;

import java.util.List;
import org.fmsmo.api.plugin.ConfigKeySpec;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code awq}: activation-aware scales and clipping, then round-to-nearest, stage by stage through the blocks. */
public final class AwqMethodProvider implements QuantMethodProvider {

    /** The keys both AWQ methods read (one owner: this plugin). */
    static final List<ConfigKeySpec> KEYS = List.of(
            ConfigKeySpec.integer("awq_grid", 1, 1000, "AWQ: grid points for the scale exponent α in [0, 1) and the clipping ratios (20)"),
            ConfigKeySpec.flag("awq_clip", "AWQ: search a clipping ratio per weight group and clamp to it before rounding (default on)"),
            ConfigKeySpec.flag("awq_duo_scaling", "AWQ: scale by x^α / w^(1−α), w the mean |w| relative to its group max, as AutoAWQ does (default on); off: the paper's x^α"),
            ConfigKeySpec.number("awq_max_shrink", 0, 0.99, "AWQ: the smallest clipping ratio tried is 1 − this (0.5)"),
            ConfigKeySpec.integer("awq_search_tokens", 16, 1 << 20,
                    "AWQ: inputs at most this wide keep their exact Gram matrix; wider ones a random sample of this many tokens (4096)"));

    @Override
    public String name() {
        return "awq";
    }

    @Override
    public String description() {
        return "AWQ weight quantization (INT2-8 per channel or group, sym/asym): activation-aware scales folded into the "
                + "producing norm or linear layer, clipping search, round-to-nearest";
    }

    @Override
    public List<ConfigKeySpec> configKeys() {
        return KEYS;
    }

    @Override
    public QuantMethod create() {
        return new AwqMethod(name(), false);
    }
}
