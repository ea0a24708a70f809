package com.example.fmsmo.stochastic;

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

    @Override
    public QuantMethod create() {
        return new StochasticRtnMethod();
    }
}
