package com.example.fmsmo.stochastic;

import java.util.List;
import org.fmsmo.api.plugin.ConfigKeySpec;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code stochastic-rtn}: weights rounded up or down at random, in proportion to the distance. */
public final class StochasticRtnProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "stochastic-rtn";
    }

    @Override
    public String description() {
        return "RTN with unbiased stochastic rounding, symmetric INT per tensor or channel (seeded: config key 'seed')";
    }

    /** The key {@link StochasticRtnMethod} reads: recipes and {@code --set} accept it once this plugin is installed. */
    @Override
    public List<ConfigKeySpec> configKeys() {
        return List.of(ConfigKeySpec.integer("seed", 0, Integer.MAX_VALUE, "stochastic-rtn: seed of the rounding's random generator"));
    }

    @Override
    public QuantMethod create() {
        return new StochasticRtnMethod();
    }
}
