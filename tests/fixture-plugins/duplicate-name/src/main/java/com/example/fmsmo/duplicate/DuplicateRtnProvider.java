package com.example.fmsmo.duplicate;

import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** Claims the name of the bundled {@code rtn} method. */
public final class DuplicateRtnProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "rtn";
    }

    @Override
    public QuantMethod create() {
        throw new UnsupportedOperationException("a duplicate must never be selected");
    }
}
