package com.example.fmsmo.future;

import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** Declares SPI >=2.0.0: the host must refuse it before constructing this class. */
public final class FutureProvider implements QuantMethodProvider {

    /** Must never run on an SPI 1.x host. */
    public FutureProvider() {
        throw new AssertionError("a plugin for a newer SPI was instantiated");
    }

    @Override
    public String name() {
        return "from-the-future";
    }

    @Override
    public QuantMethod create() {
        throw new AssertionError("never constructed");
    }
}
