package com.example.fmsmo.throwing;

import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** Fails in its constructor, like a plugin whose licence check or native set-up fails. */
public final class ThrowingProvider implements QuantMethodProvider {

    /** Always throws. */
    public ThrowingProvider() {
        throw new IllegalStateException("licence check failed for throwing-constructor");
    }

    @Override
    public String name() {
        return "throwing";
    }

    @Override
    public QuantMethod create() {
        throw new AssertionError("never constructed");
    }
}
